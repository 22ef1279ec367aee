package tasks

// fair lists the types of the first task of each kind of per-company job.
// Those tasks are held in PostgreSQL and handed to asynq later, in fair
// order across companies, rebuilt from their payload (Rebuild).
var fair = map[string]bool{
	TypeExport:         true,
	TypeSegmentSearch:  true,
	TypeSyncRefresh:    true,
	TypeCampaignFreeze: true,
}

// Fair reports whether tasks of typ start per-company jobs that are
// dispatched fairly across companies.
func Fair(typ string) bool { return fair[typ] }
