package segment_test

import (
	"testing"

	"github.com/reactivation/reactivation/internal/profile"
	"github.com/reactivation/reactivation/internal/segment"
)

func TestSearchTokens(t *testing.T) {
	got := segment.SearchTokens(profile.Profile{
		Name:  "  María-José  O'Brien ",
		Email: "MJ.Obrien@Example.COM",
		Phone: "+506 8888-1234",
	})
	equal(t, []string{"50688881234", "88881234", "brien", "jose", "maria", "maria-jose", "mj.obrien@example.com", "o", "o'brien"}, got)
	equal(t, []string(nil), segment.SearchTokens(profile.Profile{}))
}

func TestQueryTokens(t *testing.T) {
	q := func(s string) []string {
		f, err := segment.Decode([]byte(`{"q":"` + s + `"}`))
		noErr(t, err)
		return f.QueryTokens()
	}
	equal(t, []string{"jose", "perez"}, q("PÉREZ  josé perez"))
	equal(t, []string{"506", "8888", "88881234"}, q("+506 8888 8888-1234"))
	equal(t, []string{"mj.obrien@exa"}, q("MJ.OBRIEN@EXA"))
	equal(t, []string(nil), q("   "))
}
