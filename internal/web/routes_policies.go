package web

// policyRoutes are the policy pages: list, detail, lists, explain.
func (s *Server) policyRoutes() {}
