package web

// reportRoutes are the report pages: tiles, timeline, tops, hits, CSV.
func (s *Server) reportRoutes() {}
