package harness

import (
	"errors"
	"reflect"
	"testing"
)

func TestTemplateSplitsLikeAShellAndKeepsValuesWhole(t *testing.T) {
	t.Parallel()
	tp, err := ParseTemplate(`python3 "my dir/client.py" --url={url} 'a b' c\ d "q\"x" {ca}`)
	if err != nil {
		t.Fatal(err)
	}
	got := tp.Expand(map[string]string{"url": "wss://localhost:1/", "ca": "/tmp/with space/ca.pem"})
	want := []string{"python3", "my dir/client.py", "--url=wss://localhost:1/", "a b", "c d", `q"x`, "/tmp/with space/ca.pem"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{`run {nope}`, `run 'open`, `run "open`, ``, `   `} {
		if _, err := ParseTemplate(bad); !errors.Is(err, ErrTemplate) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := CheckPlaceholders("wss://localhost:{port}/{dir}", "port", "host"); !errors.Is(err, ErrTemplate) {
		t.Errorf("{dir} in a target: %v", err)
	}
}
