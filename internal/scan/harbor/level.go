package harbor

import "strings"

// berth's severity words.
const (
	LevelUnknown  = "UNKNOWN"
	LevelLow      = "LOW"
	LevelMedium   = "MEDIUM"
	LevelHigh     = "HIGH"
	LevelCritical = "CRITICAL"
)

// Level maps a Harbor severity (Unknown, Negligible, Low, Medium, High,
// Critical; any case) to berth's word. Negligible counts as LOW; anything
// unrecognised is UNKNOWN.
func Level(harborSeverity string) string {
	switch strings.ToLower(strings.TrimSpace(harborSeverity)) {
	case "critical":
		return LevelCritical
	case "high":
		return LevelHigh
	case "medium":
		return LevelMedium
	case "low", "negligible":
		return LevelLow
	}
	return LevelUnknown
}

// rank orders berth's levels, UNKNOWN lowest.
func rank(level string) int {
	switch level {
	case LevelLow:
		return 1
	case LevelMedium:
		return 2
	case LevelHigh:
		return 3
	case LevelCritical:
		return 4
	}
	return 0
}
