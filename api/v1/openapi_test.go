package v1

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute compares the routes New registers (read from
// v1.go's source, so that a route added without its description fails
// here, before any server runs) with the operations of openapi.json. The
// end-to-end contract test (cmd/recvault/openapi_test.go) then checks what
// each operation answers.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "v1.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "HandleFunc" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		pattern, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(pattern, " ") { // the catch-all "/api/v1/" has no method
			routes = append(routes, pattern)
		}
		return true
	})
	if len(routes) < 10 {
		t.Fatalf("found only %d routes in v1.go: %v", len(routes), routes)
	}

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var described []string
	for path, item := range doc.Paths {
		for method := range item {
			if method != "parameters" && method != "summary" && method != "description" {
				described = append(described, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(described)
	if !slices.Equal(routes, described) {
		t.Fatalf("routes of v1.go and operations of openapi.json differ:\nv1.go:        %v\nopenapi.json: %v", routes, described)
	}
}
