package fake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
)

// object is a JSON object that keeps its members in insertion order, the
// order in which Keycloak writes claims.
type object struct {
	names []string
	vals  map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

// set adds or replaces a member; a new member goes last.
func (o *object) set(name string, v any) *object {
	if _, ok := o.vals[name]; !ok {
		o.names = append(o.names, name)
	}
	o.vals[name] = v
	return o
}

// setIf sets the member when v is not empty ("", nil, an empty slice or map).
func (o *object) setIf(name string, v any) *object {
	switch x := v.(type) {
	case nil:
		return o
	case string:
		if x == "" {
			return o
		}
	case []string:
		if len(x) == 0 {
			return o
		}
	case map[string]any:
		if len(x) == 0 {
			return o
		}
	}
	return o.set(name, v)
}

func (o *object) get(name string) (any, bool) {
	v, ok := o.vals[name]
	return v, ok
}

func (o *object) str(name string) string {
	s, _ := o.vals[name].(string)
	return s
}

// num returns an integer member; false when absent or not an integer.
func (o *object) num(name string) (int64, bool) {
	switch v := o.vals[name].(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}

func (o *object) del(name string) {
	if _, ok := o.vals[name]; !ok {
		return
	}
	delete(o.vals, name)
	o.names = slices.DeleteFunc(o.names, func(n string) bool { return n == name })
}

// clone copies the member list; values are shared.
func (o *object) clone() *object {
	c := &object{names: slices.Clone(o.names), vals: make(map[string]any, len(o.vals))}
	for k, v := range o.vals {
		c.vals[k] = v
	}
	return c
}

// asMap returns a copy of the members as a map.
func (o *object) asMap() map[string]any {
	m := make(map[string]any, len(o.vals))
	for k, v := range o.vals {
		m[k] = v
	}
	return m
}

// replace takes the members of m, keeping the order of those o had and
// appending new ones in name order.
func (o *object) replace(m map[string]any) {
	var names []string
	for _, n := range o.names {
		if _, ok := m[n]; ok {
			names = append(names, n)
		}
	}
	var added []string
	for n := range m {
		if _, ok := o.vals[n]; !ok {
			added = append(added, n)
		}
	}
	slices.Sort(added)
	o.names = append(names, added...)
	o.vals = make(map[string]any, len(m))
	for k, v := range m {
		o.vals[k] = v
	}
}

func (o *object) MarshalJSON() ([]byte, error) { return o.encode(":") }

// encode writes the members in order, the name and value of every member
// after the first separated by sep (Keycloak writes a JWS header with
// " : ").
func (o *object) encode(sep string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range o.names {
		k, err := json.Marshal(n)
		if err != nil {
			return nil, err
		}
		v, err := marshal(o.vals[n])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(k)
		if i == 0 {
			b.WriteByte(':')
		} else {
			b.WriteString(sep)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping, as Keycloak (Jackson)
// writes "<", ">" and "&" as they are.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decodeObject parses a JSON object keeping its member order; numbers stay
// json.Number so that they are written back unchanged.
func decodeObject(data []byte) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	o := newObject()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := o.vals[name]; dup {
			return nil, errors.New("duplicate member " + name)
		}
		o.set(name, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return o, nil
}
