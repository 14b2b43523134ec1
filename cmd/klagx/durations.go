package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// durationMapper decodes every time.Duration flag. It differs from kong's
// in two ways:
//
//   - A negative value after a space (--window -5s) is kong's short-flag
//     syntax; kong suggests --window=-5s, which klagx then refuses. Say
//     what is wrong instead: no klagx duration may be negative.
//   - With bareSeconds (the flags named "...-seconds", type:"seconds"), a
//     number without a unit is seconds, as the flag's name says:
//     --warn-lag-seconds 60 is one minute. Elsewhere a bare number is
//     refused, as in Go: it would be nanoseconds.
type durationMapper struct{ bareSeconds bool }

// Decode implements kong.Mapper.
func (m durationMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	if t := ctx.Scan.Peek(); !t.IsValue() && !t.IsEOL() && looksNegative(t.String()) {
		ctx.Scan.Pop()
		return fmt.Errorf("%q: negative durations are not allowed", t.String())
	}
	t, err := ctx.Scan.PopValue("duration")
	if err != nil {
		return err
	}
	var d time.Duration
	switch v := t.Value.(type) {
	case string:
		if d, err = parseDuration(v, m.bareSeconds); err != nil {
			return err
		}
	case int, int64, float64:
		// A YAML number from the config file, stringified by the
		// resolver, arrives as a string; typed numbers come from tests.
		if d, err = parseDuration(fmt.Sprint(v), m.bareSeconds); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%v is not a duration", v)
	}
	target.Set(reflect.ValueOf(d))
	return nil
}

// looksNegative is true for "-5s", "-1", "-.5m": a negative number, not a
// flag name.
func looksNegative(s string) bool {
	return len(s) > 1 && s[0] == '-' && (s[1] >= '0' && s[1] <= '9' || s[1] == '.')
}

// parseDuration parses a Go duration ("90s", "1m30s"); with bareSeconds, a
// plain number ("60", "1.5") is seconds. A negative value is an error.
func parseDuration(s string, bareSeconds bool) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if bareSeconds {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			if f < 0 {
				return 0, fmt.Errorf("%q: negative durations are not allowed", s)
			}
			return time.Duration(f * float64(time.Second)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		want := `a duration with a unit such as "90s" or "5m"`
		if bareSeconds {
			want = `seconds ("60") or a duration with a unit such as "90s" or "5m"`
		}
		return 0, fmt.Errorf("%q is not %s", s, want)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: negative durations are not allowed", s)
	}
	return d, nil
}

// durationMappers registers durationMapper for every time.Duration and,
// as type:"seconds", for the flags whose name says seconds.
func durationMappers() []kong.Option {
	return []kong.Option{
		kong.TypeMapper(reflect.TypeOf(time.Duration(0)), durationMapper{}),
		kong.NamedMapper("seconds", durationMapper{bareSeconds: true}),
	}
}
