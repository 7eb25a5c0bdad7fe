package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiVersionsKey = 18

// handlerFunc serves one API key. The request is already decoded at a version
// inside the registered range.
type handlerFunc func(c *conn, req kmsg.Request) reply

type apiHandler struct {
	key      int16
	min, max int16 // versions we decode and answer
	advMin   int16 // min version we advertise (may be below min; see produce.go)
	fn       handlerFunc
}

var handlers = map[int16]*apiHandler{}

// regKey registers the handler for an API key and the version range it serves.
// Each API file calls it from init, so ApiVersions is derived from what is
// actually handled.
func regKey(key, min, max int16, fn handlerFunc) {
	if kmsg.RequestForKey(key).MaxVersion() < max {
		panic("kmsg cannot decode the registered max version of " + kmsg.NameForKey(key))
	}
	handlers[key] = &apiHandler{key: key, min: min, max: max, advMin: min, fn: fn}
}

func lookupHandler(key int16) *apiHandler { return handlers[key] }

// advertisedKeys lists every registered key, sorted, as ApiVersions reports them.
func advertisedKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(handlers))
	for _, h := range handlers {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = h.key, h.advMin, h.max
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return keys
}
