package bench

import "fmt"

// Search engines a scenario can measure (--engine).
const (
	EngineElastic  = "elastic"
	EnginePostgres = "postgres"
)

// ResolveEngine returns the engine named by flag, or, when flag is empty,
// EngineElastic if an Elasticsearch URL is configured and EnginePostgres
// otherwise. Any other name is an error naming the choices.
func ResolveEngine(flag, elasticsearchURL string) (string, error) {
	switch flag {
	case EngineElastic, EnginePostgres:
		return flag, nil
	case "":
		if elasticsearchURL != "" {
			return EngineElastic, nil
		}
		return EnginePostgres, nil
	}
	return "", fmt.Errorf("--engine must be %s or %s, got %q", EnginePostgres, EngineElastic, flag)
}
