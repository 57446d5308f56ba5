package replicate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed cron expression: five fields (minute hour
// day-of-month month day-of-week), or six with a leading seconds field.
// Each field is "*", a number, a range "a-b", a step "*/n" or "a-b/n", or a
// comma-separated list of those. Day of week 0 and 7 are Sunday. As in
// cron, when both day fields are restricted a day matching either one
// fires.
type Schedule struct {
	src                                  string
	second, minute, hour, dom, month, dw uint64 // bit i set: value i allowed
	domAny, dowAny                       bool
}

// String returns the expression as written.
func (s Schedule) String() string { return s.src }

type cronField struct {
	name     string
	min, max int
}

var cronFields = []cronField{
	{"second", 0, 59}, {"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7},
}

// ParseSchedule parses a cron expression.
func ParseSchedule(expr string) (Schedule, error) {
	parts := strings.Fields(expr)
	switch len(parts) {
	case 5:
		parts = append([]string{"0"}, parts...)
	case 6:
	default:
		return Schedule{}, fmt.Errorf("schedule %q: want 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first)", expr)
	}
	s := Schedule{src: expr}
	sets := []*uint64{&s.second, &s.minute, &s.hour, &s.dom, &s.month, &s.dw}
	for i, p := range parts {
		bits, err := parseCronField(p, cronFields[i])
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule %q: %s: %w", expr, cronFields[i].name, err)
		}
		*sets[i] = bits
	}
	if s.dw&(1<<7) != 0 {
		s.dw |= 1 // 7 is Sunday too
	}
	s.domAny, s.dowAny = parts[3] == "*" || parts[3] == "?", parts[5] == "*" || parts[5] == "?"
	return s, nil
}

func parseCronField(f string, spec cronField) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(f, ",") {
		rng, step := item, 1
		if i := strings.IndexByte(item, '/'); i >= 0 {
			n, err := strconv.Atoi(item[i+1:])
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("bad step in %q", item)
			}
			rng, step = item[:i], n
		}
		lo, hi := spec.min, spec.max
		switch {
		case rng == "*" || rng == "?":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err1, err2 error
			lo, err1 = strconv.Atoi(a)
			hi, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil || lo > hi {
				return 0, fmt.Errorf("bad range %q", rng)
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return 0, fmt.Errorf("bad value %q", rng)
			}
			lo, hi = n, n
			if step > 1 { // "5/15": from 5 to the end
				hi = spec.max
			}
		}
		if lo < spec.min || hi > spec.max {
			return 0, fmt.Errorf("%q is outside %d-%d", rng, spec.min, spec.max)
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func has(bits uint64, v int) bool { return bits&(1<<uint(v)) != 0 }

func (s Schedule) dayMatches(t time.Time) bool {
	dom, dow := has(s.dom, t.Day()), has(s.dw, int(t.Weekday()))
	switch {
	case s.domAny && s.dowAny:
		return true
	case s.domAny:
		return dow
	case s.dowAny:
		return dom
	}
	return dom || dow
}

// Next returns the first time after t that the schedule fires (in t's
// location), or the zero time when there is none within five years (a
// day that never comes, such as February 31).
func (s Schedule) Next(t time.Time) time.Time {
	t = t.Truncate(time.Second).Add(time.Second)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		switch {
		case !has(s.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
		case !has(s.hour, t.Hour()):
			t = t.Truncate(time.Hour).Add(time.Hour)
		case !has(s.minute, t.Minute()):
			t = t.Truncate(time.Minute).Add(time.Minute)
		case !has(s.second, t.Second()):
			t = t.Add(time.Second)
		default:
			return t
		}
	}
	return time.Time{}
}
