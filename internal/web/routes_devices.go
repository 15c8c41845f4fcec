package web

// deviceRoutes are the device pages beyond the list: add, edit, detail,
// preflight, setup instructions, log health. Reads are open to every
// role (a viewer sees the settings read-only); changes are admin only.
// Adding is not under /ui/devices/, where it would hide a device named
// "new".
func (s *Server) deviceRoutes() {
	const admin, anyone = true, false
	s.mux.HandleFunc("GET /ui/add-device", s.withSession(admin, s.newDevicePage))
	s.mux.HandleFunc("POST /ui/add-device", s.withSession(admin, s.createDevice))
	s.mux.HandleFunc("GET /ui/devices/{nickname}", s.withSession(anyone, s.deviceOverview))
	s.mux.HandleFunc("GET /ui/devices/{nickname}/edit", s.withSession(anyone, s.editDevicePage))
	s.mux.HandleFunc("POST /ui/devices/{nickname}/edit", s.withSession(admin, s.updateDevice))
	s.mux.HandleFunc("GET /ui/devices/{nickname}/plan", s.withSession(anyone, s.devicePlan))
	s.mux.HandleFunc("GET /ui/devices/{nickname}/setup", s.withSession(anyone, s.deviceSetup))
	s.mux.HandleFunc("POST /ui/devices/{nickname}/logs/setup", s.withSession(admin, s.logsSetup))
	s.mux.HandleFunc("GET /ui/devices/{nickname}/logs", s.withSession(anyone, s.deviceLogs))
	s.mux.HandleFunc("POST /ui/devices/{nickname}/logs/retry", s.withSession(admin, s.retryQuarantined))
	s.mux.HandleFunc("POST /ui/devices/{nickname}/sync-now", s.withSession(admin, s.deviceSync))
	s.mux.HandleFunc("POST /ui/devices/{nickname}/preflight", s.withSession(admin, s.devicePreflight))
	s.mux.HandleFunc("POST /ui/devices/{nickname}/delete", s.withSession(admin, s.deleteDevice))
}
