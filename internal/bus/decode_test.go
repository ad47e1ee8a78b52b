package bus

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/event/eventtest"
)

// base is one event as our publishers marshal it; the cases below vary it.
const base = `{"id":"0190b6c3-7e4d-7a3b-9c1e-2f6a8b9c0d1e","ts":"2024-05-01T12:34:56.789012345Z",` +
	`"decky":"decky-01","service":"ssh","type":"login_attempt","src_ip":"198.51.0.1","src_port":40001,` +
	`"dst_ip":"10.0.0.5","dst_port":22,"proto":"tcp","session":"s-1",` +
	`"fields":{"username":"root","n":1.5,"deep":{"a":[1,"x",null,true,{"b":{}}]}},` +
	`"credential":{"principal":"root","secret_kind":"plaintext","secret_printable":"pass","secret_b64":"cGFzcw==","outcome":"failure"}}`

// withTS is a minimal event carrying the timestamp ts (a JSON value).
func withTS(ts string) string { return `{"id":"x","ts":` + ts + `,"decky":"d"}` }

// decodeCases are inputs the fast path must read exactly like the slow path;
// fast says whether the fast path handles the input itself.
var decodeCases = []struct {
	name, in string
	fast     bool
}{
	{"object", base, true},
	{"array", `[` + base + `,` + base + `]`, true},
	{"empty array", `[]`, true},
	{"empty object", `{}`, true},
	{"array of empty objects", ` [{}]`, true},
	{"whitespace", " \t\r\n[ \n" + strings.ReplaceAll(base, ",", " ,\n\t") + " ]\r\n ", true},
	{"minimal", `{"id":"a","ts":"2024-05-01T12:00:00Z"}`, true},
	{"no credential", `{"id":"a","credential":null,"fields":null}`, false},
	{"empty fields", `{"fields":{}}`, true},
	{"scalar fields", `{"fields":{"a":null,"b":true,"c":false,"d":-1.5e3,"e":"s","f":0,"g":1E-400}}`, true},
	{"nested fields", `{"fields":{"a":[1,{"x":null,"x":[]}],"b":{"c":{"d":"e"},"c":{"f":1}}}}`, true},
	{"huge float in fields", `{"fields":{"a":1e400}}`, false},
	{"huge float nested in fields", `{"fields":{"a":[1e400]}}`, false},
	{"null in fields", `{"fields":{"a":null,"a":1}}`, false},
	{"credential absent", `{"id":"a","fields":{"x":"y"}}`, true},
	{"escaped string", `{"id":"a\"b\\c\n\u00e9\ud83d\ude00","decky":"\u0064"}`, true},
	{"unicode string", `{"id":"décky-ü","decky":"日本"}`, true},
	{"escaped name", `{"\u0069d":"x","s\u0072c_port":1}`, false},
	{"escaped name duplicate", `{"id":"x","\u0069d":"y"}`, false},
	{"upper-case name", `{"ID":"x"}`, false},
	{"mixed-case name", `{"Src_Port":5,"DECKY":"d"}`, false},
	{"case variant after exact", `{"id":"a","Id":"b"}`, false},
	{"upper-case in credential", `{"credential":{"Principal":"root","SECRET_KIND":"x"}}`, false},
	{"unknown name", `{"id":"a","extra":1}`, false},
	{"duplicate name", `{"id":"a","id":"b"}`, false},
	{"duplicate fields merge", `{"fields":{"a":1},"fields":{"b":2}}`, false},
	{"duplicate credential merge", `{"credential":{"principal":"a"},"credential":{"outcome":"x"}}`, false},
	{"duplicate inside fields", `{"fields":{"a":1,"a":2}}`, false},
	{"duplicate inside fields merge", `{"fields":{"a":1,"a":{"b":2}}}`, false},
	{"null id", `{"id":null}`, false},
	{"null ts", `{"ts":null}`, false},
	{"null port", `{"src_port":null}`, false},
	{"null top", `null`, false},
	{"null element", `[null]`, false},
	{"null element after event", `[{"id":"a"},null]`, false},
	{"string port", `{"src_port":"22"}`, false},
	{"number id", `{"id":5}`, false},
	{"bool decky", `{"decky":true}`, false},
	{"array fields", `{"fields":[1]}`, false},
	{"string credential", `{"credential":"x"}`, false},
	{"float port", `{"src_port":22.0}`, false},
	{"exponent port", `{"src_port":1e2}`, false},
	{"negative port", `{"src_port":-5}`, true},
	{"negative zero port", `{"src_port":-0}`, true},
	{"ten-digit port", `{"dst_port":1234567890}`, false},
	{"int64 max port", `{"dst_port":9223372036854775807}`, false},
	{"int64 overflow port", `{"dst_port":9223372036854775808}`, false},
	{"int64 min port", `{"dst_port":-9223372036854775808}`, false},
	{"huge port", `{"dst_port":99999999999999999999999}`, false},
	{"leading zero port", `{"dst_port":022}`, false},
	{"invalid UTF-8 value", "{\"id\":\"a\xffb\"}", false},
	{"invalid UTF-8 name", "{\"i\xff\":\"a\"}", false},
	{"invalid UTF-8 in fields", "{\"fields\":{\"a\xff\":\"b\xfe\"}}", false},
	{"invalid UTF-8 outside strings", "\xff", false},
	{"object then garbage", `{} x`, false},
	{"two objects", `{}{}`, false},
	{"extra bracket", `[{}]]`, false},
	{"trailing comma", `[{},]`, false},
	{"unterminated", `[{"id":"a"`, false},
	{"number element", `[1]`, false},
	{"string element", `["x"]`, false},
	{"nested array", `[[]]`, false},
	{"empty input", ``, false},
	{"blank input", " \n", false},
	{"string top", `"x"`, false},
	{"ts no fraction", withTS(`"2024-05-01T12:00:00Z"`), true},
	{"ts one digit", withTS(`"2024-05-01T12:00:00.5Z"`), true},
	{"ts nine digits", withTS(`"2024-05-01T12:00:00.123456789Z"`), true},
	{"ts ten digits", withTS(`"2024-05-01T12:00:00.1234567891Z"`), true},
	{"ts empty fraction", withTS(`"2024-05-01T12:00:00.Z"`), false},
	{"ts comma fraction", withTS(`"2024-05-01T12:00:00,5Z"`), false},
	{"ts positive offset", withTS(`"2024-05-01T12:00:00+02:00"`), true},
	{"ts negative offset", withTS(`"2024-05-01T12:00:00.25-07:30"`), true},
	{"ts zero offset", withTS(`"2024-05-01T12:00:00+00:00"`), true},
	{"ts offset hour out of range", withTS(`"2024-05-01T12:00:00+24:00"`), false},
	{"ts offset minute out of range", withTS(`"2024-05-01T12:00:00+01:60"`), false},
	{"ts lower-case t", withTS(`"2024-05-01t12:00:00Z"`), false},
	{"ts lower-case z", withTS(`"2024-05-01T12:00:00z"`), false},
	{"ts leap second", withTS(`"2016-12-31T23:59:60Z"`), false},
	{"ts leap day", withTS(`"2024-02-29T00:00:00Z"`), true},
	{"ts no leap day", withTS(`"2023-02-29T00:00:00Z"`), false},
	{"ts day 31 of 30", withTS(`"2024-04-31T00:00:00Z"`), false},
	{"ts month 13", withTS(`"2024-13-01T00:00:00Z"`), false},
	{"ts hour 24", withTS(`"2024-05-01T24:00:00Z"`), false},
	{"ts one-digit hour", withTS(`"2024-05-01T1:00:00Z"`), false},
	{"ts year zero", withTS(`"0000-01-01T00:00:00Z"`), true},
	{"ts year 9999", withTS(`"9999-12-31T23:59:59.999999999Z"`), true},
	{"ts escaped", withTS(`"\u0032024-05-01T12:00:00Z"`), true},
	{"ts space", withTS(`"2024-05-01 12:00:00Z"`), false},
	{"ts date only", withTS(`"2024-05-01"`), false},
	{"ts empty", withTS(`""`), false},
	{"ts number", withTS(`1714567890`), false},
	{"ts invalid UTF-8", withTS("\"2024-05-01T12:00:00\xffZ\""), false},
}

// checkSame fails t unless decodeEvents and the fast path agree with the
// slow path on data: both fail, or both give deeply equal events.
func checkSame(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	want, wantErr := decodeEventsSlow(data)
	got, err := decodeEvents(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decodeEvents(%q): error %v, slow path error %v", data, err, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeEvents(%q)\n got %#v\nwant %#v", data, got, want)
	}
	evs, ok := decodeEventsFast(data)
	if ok && (wantErr != nil || !reflect.DeepEqual(evs, want)) {
		t.Fatalf("fast path accepted %q: got %#v, slow path %#v, %v", data, evs, want, wantErr)
	}
	return ok
}

func TestDecodeFastMatchesSlow(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			if fast := checkSame(t, []byte(c.in)); fast != c.fast {
				t.Errorf("fast path taken: %v, want %v", fast, c.fast)
			}
		})
	}
}

func TestDecodeFastTakesPublishedMessages(t *testing.T) {
	wave := eventtest.AttackWave(64)
	for _, v := range []any{wave, wave[1], wave[:1]} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !checkSame(t, data) {
			t.Errorf("fast path refused a published message: %.200s", data)
		}
	}
}

// FuzzDecodeFast checks the fast path against the slow path.
// (FuzzDecodeEvents in bus_test.go only checks that decoding does not panic.)
func FuzzDecodeFast(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.in))
	}
	wave, err := json.Marshal(eventtest.AttackWave(9))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wave)
	f.Fuzz(func(t *testing.T, data []byte) { checkSame(t, data) })
}

func BenchmarkDecodeEvents(b *testing.B) {
	const n = 64
	data, err := json.Marshal(eventtest.AttackWave(n))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		decode func([]byte) ([]event.Event, error)
	}{{"fast", decodeEvents}, {"slow", decodeEventsSlow}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if evs, err := bc.decode(data); err != nil || len(evs) != n {
					b.Fatalf("decoded %d events: %v", len(evs), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
