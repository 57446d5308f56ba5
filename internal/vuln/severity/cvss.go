package severity

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Base metric weights of CVSS v3.0 and v3.1 (identical in both).
var (
	cvssAV  = map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
	cvssAC  = map[string]float64{"L": 0.77, "H": 0.44}
	cvssUI  = map[string]float64{"N": 0.85, "R": 0.62}
	cvssCIA = map[string]float64{"H": 0.56, "L": 0.22, "N": 0}
	// Privileges Required weighs more when the scope changes.
	cvssPRUnchanged = map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	cvssPRChanged   = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
)

// Values allowed for each metric of a v3 vector; the temporal and
// environmental ones are accepted and ignored.
var cvssMetrics = map[string]string{
	"AV": "NALP", "AC": "LH", "PR": "NLH", "UI": "NR", "S": "UC", "C": "HLN", "I": "HLN", "A": "HLN",
	"E": "XUPFH", "RL": "XOTWU", "RC": "XURC",
	"CR": "XLMH", "IR": "XLMH", "AR": "XLMH",
	"MAV": "XNALP", "MAC": "XLH", "MPR": "XNLH", "MUI": "XNR", "MS": "XUC",
	"MC": "XHLN", "MI": "XHLN", "MA": "XHLN",
}

var cvssBase = []string{"AV", "AC", "PR", "UI", "S", "C", "I", "A"}

// CVSS3BaseScore computes the base score of a CVSS v3.0 or v3.1 vector
// ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" → 9.8). Both versions
// share the formula; the v3.1 round-up, which avoids floating-point
// surprises, is used for both.
func CVSS3BaseScore(vector string) (float64, error) {
	m, err := parseCVSS3(vector)
	if err != nil {
		return 0, err
	}
	changed := m["S"] == "C"
	iss := 1 - (1-cvssCIA[m["C"]])*(1-cvssCIA[m["I"]])*(1-cvssCIA[m["A"]])
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	pr := cvssPRUnchanged[m["PR"]]
	if changed {
		pr = cvssPRChanged[m["PR"]]
	}
	exploitability := 8.22 * cvssAV[m["AV"]] * cvssAC[m["AC"]] * pr * cvssUI[m["UI"]]
	if impact <= 0 {
		return 0, nil
	}
	if changed {
		return roundUp(math.Min(1.08*(impact+exploitability), 10)), nil
	}
	return roundUp(math.Min(impact+exploitability, 10)), nil
}

func parseCVSS3(vector string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(vector), "CVSS:3.1/")
	if !ok {
		rest, ok = strings.CutPrefix(strings.TrimSpace(vector), "CVSS:3.0/")
	}
	if !ok {
		return nil, errors.New("severity: not a CVSS v3.0/v3.1 vector")
	}
	m := make(map[string]string, 8)
	for _, part := range strings.Split(rest, "/") {
		k, val, ok := strings.Cut(part, ":")
		allowed, known := cvssMetrics[k]
		if !ok || !known {
			return nil, fmt.Errorf("severity: unknown CVSS metric %q", part)
		}
		if len(val) != 1 || !strings.Contains(allowed, val) {
			return nil, fmt.Errorf("severity: invalid value for CVSS metric %q", part)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("severity: CVSS metric %s given twice", k)
		}
		m[k] = val
	}
	for _, k := range cvssBase {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("severity: CVSS base metric %s missing", k)
		}
	}
	return m, nil
}

// roundUp is CVSS v3.1's Roundup: the smallest number with one decimal
// place that is equal to or higher than x, computed on integers so that
// 4.000000000000001 rounds to 4.0, not 4.1.
func roundUp(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}
