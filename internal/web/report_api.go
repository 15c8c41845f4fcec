package web

import "time"

// The JSON of the report routes, as the pages read it.

type apiSummary struct {
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	Resolutions     int64     `json:"resolutions"`
	Blocked         int64     `json:"blocked"`
	Alerted         int64     `json:"alerted"`
	PercentBlocked  float64   `json:"percent_blocked"`
	DistinctClients int64     `json:"distinct_clients"`
	Unattributed    int64     `json:"unattributed"`
	Note            string    `json:"note"`
}

// apiTimeline is kept as the API sends it: the page hands it to
// reports.js as JSON.
type apiTimeline struct {
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	BucketSeconds int64     `json:"bucket_seconds"`
	Points        []struct {
		At      time.Time `json:"at"`
		Blocked int64     `json:"blocked"`
		Alerted int64     `json:"alerted"`
		Passed  int64     `json:"passed"`
	} `json:"points"`
}

type apiTop struct {
	By   string `json:"by"`
	Rows []struct {
		Value   string `json:"value"`
		Blocked int64  `json:"blocked"`
		Alerted int64  `json:"alerted"`
		Total   int64  `json:"total"`
	} `json:"rows"`
}

type apiHit struct {
	At        time.Time `json:"at"`
	Device    string    `json:"device"`
	QueryName string    `json:"query_name"`
	QueryType string    `json:"query_type"`
	Rcode     string    `json:"rcode"`
	Client    string    `json:"client"`
	SrcID     string    `json:"src_id"`
	VPCID     string    `json:"vpc_id"`
	Action    string    `json:"action"`
	Kind      string    `json:"kind"`
	Rule      string    `json:"rule"`
	Entry     string    `json:"entry"`
	Feed      string    `json:"feed"`
	Line      int       `json:"line"`
}

type apiHits struct {
	Hits []apiHit `json:"hits"`
	Next string   `json:"next"`
	Note string   `json:"note"`
}
