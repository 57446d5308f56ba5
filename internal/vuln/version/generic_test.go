package version

import "testing"

func TestGenericCompare(t *testing.T) {
	checkPairs(t, Generic, []pair{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},
		{"1.0", "1.0.0", 0},
		{"1", "1.0.0", 0},
		{"1.0.1", "1.0", 1},
		{"1.0-rc1", "1.0", -1},
		{"1.0-rc1", "1.0-rc2", -1},
		{"1-alpha", "1.0.0-alpha", 0},
		{"1.0-alpha", "1.0-beta", -1},
		{"1.0-a1", "1.0-alpha-1", 0},
		{"1.0-beta", "1.0-m1", -1},
		{"1.0-M1", "1.0-rc1", -1},
		{"1.0-CR1", "1.0-rc1", 0},
		{"1.0-rc1", "1.0-SNAPSHOT", -1},
		{"1.0-SNAPSHOT", "1.0", -1},
		{"1.0.Final", "1.0", 0},
		{"5.3.0.RELEASE", "5.3.0", 0},
		{"1.0-GA", "1.0", 0},
		{"1.0.0.pre", "1.0.0", -1},
		{"1.0.0.beta2", "1.0.0.rc1", -1},
		{"1.0.a", "1.0.b", -1},
		{"2.13.4.1", "2.13.4", 1},
		{"1.0a1", "1.0a2", -1},
		{"1.0-RC1", "1.0-rc1", 0},
		{"20230101", "20230102", -1},
		{"1.0-foo", "1.0-bar", 1},
		{"1.0-foo", "1.0-rc1", 1},
		{"1.0-foo", "1.0", -1},
		{"1.0.0-jre", "1.0.0-android", 1},
		{"9999999999999999999999.1", "9999999999999999999998.1", 1},
	})
}

func TestGenericLadder(t *testing.T) {
	checkLadder(t, Generic, []string{
		"1.0-alpha1", "1.0-beta1", "1.0-M1", "1.0-RC1", "1.0-SNAPSHOT", "1.0", "1.0.1", "1.1", "2",
	})
}

func TestGenericInvalid(t *testing.T) {
	checkInvalid(t, Generic, []string{"", "...", "-", " ", "+~_"})
}

func FuzzGeneric(f *testing.F) {
	fuzzOrder(f, Generic, []string{
		"1.0", "1.0-rc1", "1.0.Final", "5.3.0.RELEASE", "1.0-SNAPSHOT", "0",
		"1.0.0.pre", "2.13.4.1", "1-alpha", "0.0.0-a", "1..0",
	})
}
