package web

// reportRoutes are the report pages: tiles, timeline, tops, hits, CSV.
func (s *Server) reportRoutes() {
	s.mux.HandleFunc("GET /ui/reports", s.withSession(false, s.reportsPage))
	s.mux.HandleFunc("GET /ui/reports/hits", s.withSession(false, s.hitsPage))
	s.mux.HandleFunc("GET /ui/reports/csv", s.withSession(false, s.reportCSV))
}
