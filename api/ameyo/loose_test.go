package ameyo

import (
	"net/url"
	"testing"
)

func TestLooseParamForms(t *testing.T) {
	const id = "d741-6904fad1-vcall-10989826"
	ok := map[string]string{
		"seed example, raw":           "filters={callId%d741-6904fad1-vcall-10989826}",
		"url-encoded JSON":            "filters=" + url.QueryEscape(`{"callId":"`+id+`"}`),
		"raw JSON (curl --globoff)":   `filters={"callId":"` + id + `"}`,
		"single quotes":               "filters={'callId':'" + id + "'}",
		"unquoted":                    "filters={callId:" + id + "}",
		"unquoted, encoded":           "filters=" + url.QueryEscape("{callId:"+id+"}"),
		"spaces as plus":              "filters=%7B+%22callId%22+%3A+%22" + id + "%22+%7D",
		"extra keys":                  "filters=" + url.QueryEscape(`{"callId":"`+id+`","other":1,"flag":true}`),
		"other params around":         "campaignId=110&filters={callId:'" + id + "'}&targetFormat=mp3",
		"percent-encoded braces only": "filters=%7BcallId:" + id + "%7D",
	}
	for name, q := range ok {
		m, err := looseParam(q, "filters")
		if err != nil || m["callId"] != id {
			t.Errorf("%s (%s): %v %v", name, q, m, err)
		}
	}
	bad := map[string]string{
		"missing":      "campaignId=1",
		"empty":        "filters=",
		"no braces":    "filters=callId:x",
		"no separator": "filters={callId}",
		"unbalanced":   `filters={"callId":"x}`,
		"nested":       "filters=" + url.QueryEscape(`{"callId":{"a":1}}`),
		"just braces":  "filters={}",
		"stray quote":  `filters={callId:x"y}`,
	}
	for name, q := range bad {
		if m, err := looseParam(q, "filters"); err == nil {
			t.Errorf("%s (%s) parsed as %v", name, q, m)
		}
	}
}

func FuzzLooseParam(f *testing.F) {
	f.Add("filters={callId%d741-6904fad1-vcall-10989826}")
	f.Add(`filters=%7B%22callId%22%3A%22x%22%7D`)
	f.Add("filters={'a':'b','c':d}")
	f.Add("data={crtObjectId:'x',targetFormat:'mp3'}")
	f.Add("command=downloadVoiceLog&data=%7B%27crtObjectId%27%3A%27x%27%7D")
	f.Add("data={\"crtObjectId\":\"x\",\"targetFormat\":\"mp3\"}")
	f.Fuzz(func(t *testing.T, q string) {
		for _, name := range []string{"filters", "data"} {
			m, err := looseParam(q, name)
			if err == nil && len(m) == 0 {
				t.Fatal("success with no fields")
			}
		}
		_, _ = parseLoose(q)
	})
}
