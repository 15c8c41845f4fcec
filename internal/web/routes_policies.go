package web

// policyRoutes are the policy pages: list, detail with sources and
// explain, list edits, accepting a held update.
func (s *Server) policyRoutes() {
	s.mux.HandleFunc("GET /ui/policies", s.withSession(false, s.policiesPage))
	s.mux.HandleFunc("GET /ui/policies/{name}", s.withSession(false, s.policyPage))
	s.mux.HandleFunc("POST /ui/policies/{name}/lists", s.withSession(true, s.saveLists))
	s.mux.HandleFunc("POST /ui/policies/{name}/sources/{source}/accept", s.withSession(true, s.acceptHeld))
}
