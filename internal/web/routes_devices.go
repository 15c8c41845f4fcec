package web

// deviceRoutes are the device pages beyond the list: add, edit, detail,
// preflight, setup instructions, log health.
func (s *Server) deviceRoutes() {}
