package retention

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// ParseAge reads a rule's age: whole days ("30d") or weeks ("2w"), or a
// Go duration ("720h", "90m"). It must be positive.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var (
		d   time.Duration
		err error
	)
	switch unit := map[byte]time.Duration{'d': day, 'w': week}; {
	case s == "":
		return 0, fmt.Errorf("an age is required (like 30d, 2w or 720h)")
	case unit[s[len(s)-1]] != 0:
		n, perr := strconv.ParseInt(s[:len(s)-1], 10, 64)
		if perr != nil || n > int64(1<<62)/int64(unit[s[len(s)-1]]) {
			err = fmt.Errorf("age %q: want a whole number of days (30d) or weeks (2w), or a duration like 720h", s)
		}
		d = time.Duration(n) * unit[s[len(s)-1]]
	default:
		d, err = time.ParseDuration(s)
		if err != nil {
			err = fmt.Errorf("age %q: want days (30d), weeks (2w) or a duration like 720h", s)
		}
	}
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("age %q: must be positive", s)
	}
	return d, nil
}

// FormatAge writes an age the way ParseAge reads it, in weeks or days
// when it is a whole number of them.
func FormatAge(d time.Duration) string {
	switch {
	case d > 0 && d%week == 0:
		return strconv.FormatInt(int64(d/week), 10) + "w"
	case d > 0 && d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
