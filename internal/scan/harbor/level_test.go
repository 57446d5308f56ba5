package harbor

import "testing"

func TestLevel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Unknown", "UNKNOWN"},
		{"Negligible", "LOW"},
		{"negligible", "LOW"},
		{"Low", "LOW"},
		{"Medium", "MEDIUM"},
		{"MEDIUM", "MEDIUM"},
		{"High", "HIGH"},
		{" high ", "HIGH"},
		{"Critical", "CRITICAL"},
		{"cRiTiCaL", "CRITICAL"},
		{"", "UNKNOWN"},
		{"None", "UNKNOWN"},
		{"severe", "UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Level(tt.in); got != tt.want {
				t.Errorf("Level(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
