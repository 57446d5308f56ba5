package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// setString parses s as a value of kind k and stores it in v. It is the one
// parser for scalars, used for YAML values and environment variables alike.
func setString(v reflect.Value, k kind, s string) error {
	switch k {
	case kindString:
		v.SetString(s)
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("invalid boolean %q (use true or false)", s)
		}
		v.SetBool(b)
	case kindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	case kindDuration:
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case kindSize:
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case kindList:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		setList(v, items)
	default:
		return fmt.Errorf("unsupported kind %s", k)
	}
	return nil
}

func setList(v reflect.Value, items []string) {
	l := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, s := range items {
		l.Index(i).SetString(s)
	}
	v.Set(l)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use a number with a unit: 30s, 5m, 1h30m)", s)
	}
	return d, nil
}

// sizeUnits maps a lower-cased unit to its multiplier: decimal (kB, MB, …)
// and binary (KiB, MiB, …).
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"tb":  1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// ParseSize reads a byte size: a plain integer ("1048576") or an integer
// with a unit, decimal (B, kB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB),
// case-insensitive, with optional space between ("512MiB", "4 MB").
// A leading minus sign is accepted so that Validate can report the key.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	if i < len(t) && (t[i] == '-' || t[i] == '+') {
		i++
	}
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	bad := fmt.Errorf("invalid size %q (use bytes or an integer with a unit: 512MiB, 4MB, 1GiB)", s)
	mult, ok := sizeUnits[unit]
	if !ok || num == "" || num == "-" || num == "+" {
		return 0, bad
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, bad
	}
	if n > math.MaxInt64/mult || n < math.MinInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// FormatSize writes n bytes with the largest binary unit that divides it
// exactly ("4MiB", "1500").
func FormatSize(n int64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// formatDuration is time.Duration.String without the trailing zero units
// ("24h" rather than "24h0m0s").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formatValue writes v the way it would be written in a config file.
func formatValue(v reflect.Value, k kind) string {
	switch k {
	case kindString:
		return v.String()
	case kindBool:
		return strconv.FormatBool(v.Bool())
	case kindInt:
		return strconv.FormatInt(v.Int(), 10)
	case kindDuration:
		return formatDuration(time.Duration(v.Int()))
	case kindSize:
		return FormatSize(v.Int())
	case kindList:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = v.Index(i).String()
		}
		return strings.Join(items, ",")
	}
	return fmt.Sprint(v.Interface())
}
