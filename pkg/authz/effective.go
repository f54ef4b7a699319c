package authz

import "fmt"

// The rules of decision time, written once as SQL so that Authorize, every
// List and the participants view decide alike (DESIGN.md §3, issue 12):
//
//  1. Candidate grants of agency A on a resource: grants to A itself, and
//     grants to a group (task force) A is a member of now — under
//     membership 'snapshot' only if A was already a member when the grant
//     was made. Expired grants are no candidates.
//  2. Relations other than contributor and viewer (lead, requester,
//     recipient, holder) count as they are.
//  3. A contributor or viewer grant is capped by the most restrictive
//     agreement in force between the case's lead agency and the grantee
//     (the agency; for a group grant, the group) and, for a group grant,
//     also by the one between the lead and A. Where a step has no agreement
//     in force, the grant counts only if it carried an override reason.
//  4. The effective relation is what is left; NULL means nothing.
//
// Because now() is read by the query, an agreement that ends or narrows, a
// membership that ends, or a grant that expires counts on the next request.

// agreementRankSQL is the rank (2 contributor, 1 viewer) the most
// restrictive agreement in force between agency expressions a and b allows,
// or NULL when none is in force.
func agreementRankSQL(a, b string) string {
	return fmt.Sprintf(`(SELECT min(CASE ag.max_relation WHEN 'viewer' THEN 1 ELSE 2 END) FROM authz.agreements ag
		WHERE ag.party_lo = least(%[1]s, %[2]s) AND ag.party_hi = greatest(%[1]s, %[2]s)
		  AND ag.effective_time <= now() AND (ag.expire_time IS NULL OR ag.expire_time > now()))`, a, b)
}

// stepRankSQL is one capping step: the agreement's rank, or without one 2
// when the grant r carried an override reason and 0 (nothing) otherwise.
func stepRankSQL(r, a, b string) string {
	return fmt.Sprintf(`coalesce(%s, CASE WHEN %s.override_reason <> '' THEN 2 ELSE 0 END)`, agreementRankSQL(a, b), r)
}

// EffectiveSQL is the SQL expression of the relation agency expression
// agency effectively holds through grant row r (alias of authz.relations),
// or NULL. r must be a candidate grant of that agency (memberSQL).
func EffectiveSQL(r, agency string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s.relation NOT IN ('contributor', 'viewer') THEN %[1]s.relation
		ELSE (ARRAY[NULL, 'viewer', 'contributor']::text[])[1 + least(
			CASE %[1]s.relation WHEN 'contributor' THEN 2 ELSE 1 END,
			%[2]s,
			CASE WHEN %[1]s.grantee_type = 'group' THEN %[3]s ELSE 2 END)]
		END`, r, stepRankSQL(r, r+".lead_agency_id", r+".agency_id"), stepRankSQL(r, r+".lead_agency_id", agency))
}

// unexpiredSQL: grant r has not expired.
func unexpiredSQL(r string) string {
	return fmt.Sprintf(`(%[1]s.expire_time IS NULL OR %[1]s.expire_time > now())`, r)
}

// memberWindowSQL: membership row m is current.
func memberWindowSQL(m string) string {
	return fmt.Sprintf(`%[1]s.start_time <= now() AND (%[1]s.end_time IS NULL OR %[1]s.end_time > now())`, m)
}

// snapshotSQL: a member whose membership started at start reaches group
// grant r (a 'snapshot' grant reaches only those who were members when it
// was made).
func snapshotSQL(r, start string) string {
	return fmt.Sprintf(`(%[1]s.membership <> 'snapshot' OR %[2]s <= %[1]s.create_time)`, r, start)
}

// candidateSQL: grant row r is a candidate grant of agency expression
// agency (rule 1), unexpired.
func candidateSQL(r, agency string) string {
	return fmt.Sprintf(`%[3]s AND ((%[1]s.grantee_type = 'agency' AND %[1]s.agency_id = %[2]s)
		OR (%[1]s.grantee_type = 'group' AND EXISTS (SELECT 1 FROM authz.group_members gm
			WHERE gm.group_id = %[1]s.agency_id AND gm.agency_id = %[2]s AND %[4]s AND %[5]s)))`,
		r, agency, unexpiredSQL(r), memberWindowSQL("gm"), snapshotSQL(r, "gm.start_time"))
}

// VisibleSQL is the one SQL predicate for "the agency effectively holds one
// of these relations on the resource". idCol is the resource id column,
// agencyParam and relParam the placeholders of the agency id (uuid) and the
// relation array (text[]).
func VisibleSQL(resourceType, idCol, agencyParam, relParam string) string {
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM authz.relations vr WHERE vr.resource_type = '%s' AND vr.resource_id = %s
		AND %s AND (%s) = ANY(%s))`,
		resourceType, idCol, candidateSQL("vr", agencyParam+"::uuid"), EffectiveSQL("vr", agencyParam+"::uuid"), relParam)
}

// Walk is the SQL of a List that walks, newest first, the grants through
// which an agency may see resources of one type: one ordered index walk
// per grantee the agency acts as (itself, and each group it is a member
// of now), each cut at the page size, merged. The caller's query is
//
//	WITH grantees AS (<GranteesSQL>) SELECT … FROM grantees g CROSS JOIN LATERAL (
//	  SELECT … FROM authz.relations r JOIN <table> ON … WHERE <WalkSQL> AND <filters>
//	  ORDER BY r.sort_time DESC, r.resource_id DESC LIMIT n) x ORDER BY … LIMIT n
//
// so the first page reads about a page of index entries per grantee however
// many resources exist.
type Walk struct {
	// Agency and Relations are the placeholders of the agency id and the
	// permitting relation array.
	Agency, Relations string
}

// GranteesSQL lists the grantees (gid, gtype, mstart) agency acts as.
func (w Walk) GranteesSQL() string {
	return fmt.Sprintf(`SELECT %[1]s::uuid AS gid, 'agency'::text AS gtype, NULL::timestamptz AS mstart
		UNION ALL SELECT m.group_id, 'group', m.start_time FROM authz.group_members m WHERE m.agency_id = %[1]s::uuid AND %[2]s`,
		w.Agency, memberWindowSQL("m"))
}

// WalkSQL is the lateral branch's predicate on grant row r of grantee row
// g for resourceType: r belongs to g, is unexpired, reaches the agency and
// effectively gives one of the permitting relations.
func (w Walk) WalkSQL(resourceType string) string {
	return fmt.Sprintf(`r.agency_id = g.gid AND r.grantee_type = g.gtype AND r.resource_type = '%s' AND %s
		AND (g.mstart IS NULL OR %s) AND (%s) = ANY(%s)`,
		resourceType, unexpiredSQL("r"), snapshotSQL("r", "g.mstart"), EffectiveSQL("r", w.Agency+"::uuid"), w.Relations)
}
