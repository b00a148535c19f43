// Command crdschema completes the KuryrPort CRD that controller-gen writes from api/v1 with
// the second form a VIF can take in a KuryrPort status: the os-vif versioned-object primitive
// kuryr-kubernetes stored there, which api/v1.VIF decodes by hand and so has no Go fields
// for controller-gen to describe.
//
// The os-vif fields the node daemon reads get the validation of the api/v1.VIF fields they
// are decoded into, copied from the generated schema, so the markers in api/v1/vif.go stay
// the one place where a name, an ID or an address is constrained. A VIF is then exactly one
// of the two forms, chosen as the decoder chooses: by the versioned_object.name key.
//
// Usage: go run ./hack/crdschema deploy/crds/openstack.org_kuryrports.yaml
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"

	"sigs.k8s.io/yaml"
)

type object = map[string]any

const (
	keyName      = "versioned_object.name"
	keyNamespace = "versioned_object.namespace"
	keyVersion   = "versioned_object.version"
	keyData      = "versioned_object.data"
)

// vifFields maps the fields of an os-vif VIF's data to the api/v1.VIF fields they are decoded
// into (api/v1.VIF.fromOSVIF); bridge_name is the OVS bridge (VIFOpenVSwitch) or the
// per-port Linux bridge (VIFBridge).
var vifFields = map[string]string{"id": "id", "address": "address", "vif_name": "vifName", "bridge_name": "bridge"}

// networkFields maps the fields of the os-vif Network's data likewise.
var networkFields = map[string]string{"id": "networkId", "bridge": "bridge"}

// validationKeys are the schema keys copied from a generated property.
var validationKeys = []string{"type", "pattern", "maxLength", "minLength", "enum", "format"}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: crdschema <kuryrports CRD file>")
		os.Exit(2)
	}
	if err := patchFile(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "crdschema:", err)
		os.Exit(1)
	}
}

func patchFile(path string) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the CRD: %w", err)
	}
	out, err := patchCRD(in)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("writing the CRD: %w", err)
	}
	return nil
}

// patchCRD adds the os-vif form to every version of the KuryrPort CRD in YAML, written as
// controller-gen writes it.
func patchCRD(in []byte) ([]byte, error) {
	j, err := yaml.YAMLToJSON(bytes.TrimPrefix(in, []byte("---\n")))
	if err != nil {
		return nil, fmt.Errorf("parsing the CRD: %w", err)
	}
	var crd object
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	if err := d.Decode(&crd); err != nil {
		return nil, fmt.Errorf("decoding the CRD: %w", err)
	}
	versions, _ := walk(crd, "spec", "versions").([]any)
	if len(versions) == 0 {
		return nil, errors.New("the CRD has no versions")
	}
	for _, v := range versions {
		vif, ok := walk(v, "schema", "openAPIV3Schema", "properties", "status", "properties", "vifs",
			"additionalProperties", "properties", "vif").(object)
		if !ok {
			return nil, errors.New("no status.vifs[*].vif schema: has api/v1.KuryrPortStatus changed?")
		}
		if err := addOSVIF(vif); err != nil {
			return nil, err
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return nil, fmt.Errorf("encoding the CRD: %w", err)
	}
	return append([]byte("---\n"), out...), nil
}

// addOSVIF adds the os-vif properties to the generated VIF schema and turns its required
// fields into the requirement of one of the two forms.
func addOSVIF(vif object) error {
	props, _ := vif["properties"].(object)
	required, _ := vif["required"].([]any)
	if oneOf, ok := vif["oneOf"].([]any); ok && len(oneOf) == 2 { // already done
		required, _ = oneOf[0].(object)["required"].([]any)
	}
	if props == nil || len(required) == 0 {
		return errors.New("the VIF schema has no properties or required fields")
	}
	data, err := fieldsOf(props, vifFields)
	if err != nil {
		return err
	}
	network, err := fieldsOf(props, networkFields)
	if err != nil {
		return err
	}
	rules, err := renameRules(vif["x-kubernetes-validations"], vifFields)
	if err != nil {
		return err
	}
	dataSchema := open("The os-vif VIF fields (VIFOpenVSwitch, VIFBridge, ...).", data)
	dataSchema["properties"].(object)["network"] = versioned("The os-vif Network.", open("", network))
	if len(rules) > 0 {
		dataSchema["x-kubernetes-validations"] = rules
	}
	props[keyName] = object{"type": "string", "description": "The os-vif object name: the VIF is in kuryr-kubernetes' form."}
	props[keyNamespace] = object{"type": "string"}
	props[keyVersion] = object{"type": "string"}
	props[keyData] = dataSchema
	delete(vif, "required")
	vif["oneOf"] = []any{
		object{"required": required, "not": object{"required": []any{keyName}}},
		object{"required": []any{keyName, keyData}},
	}
	return nil
}

// fieldsOf returns, for each os-vif field, the validation of the generated property it maps to.
func fieldsOf(props object, fields map[string]string) (object, error) {
	out := object{}
	for osvif, ours := range fields {
		p, ok := props[ours].(object)
		if !ok {
			return nil, fmt.Errorf("the VIF schema has no %q property for os-vif %q", ours, osvif)
		}
		c := object{}
		for _, k := range validationKeys {
			if val, ok := p[k]; ok {
				c[k] = val
			}
		}
		out[osvif] = c
	}
	return out, nil
}

// renameRules rewrites the VIF's CEL rules for the os-vif field names; a rule on a field the
// os-vif data does not carry is an error, so that no rule is silently left out.
func renameRules(v any, fields map[string]string) ([]any, error) {
	rules, _ := v.([]any)
	back := map[string]string{}
	for osvif, ours := range fields {
		back[ours] = osvif
	}
	selfField := regexp.MustCompile(`self\.([A-Za-z_][A-Za-z0-9_]*)`)
	var out []any
	for _, r := range rules {
		rule, _ := r.(object)
		src, _ := rule["rule"].(string)
		var missing error
		renamed := selfField.ReplaceAllStringFunc(src, func(m string) string {
			name := selfField.FindStringSubmatch(m)[1]
			osvif, ok := back[name]
			if !ok {
				missing = fmt.Errorf("rule %q uses %s, which the os-vif form does not map", src, name)
				return m
			}
			return "self." + osvif
		})
		if missing != nil {
			return nil, missing
		}
		c := object{}
		for k, val := range rule {
			c[k] = val
		}
		c["rule"] = renamed
		if msg, ok := rule["message"].(string); ok {
			c["message"] = renameWords(msg, back)
		}
		out = append(out, c)
	}
	return out, nil
}

// renameWords replaces the whole words of a message that name a field.
func renameWords(msg string, names map[string]string) string {
	word := regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	return word.ReplaceAllStringFunc(msg, func(w string) string {
		if n, ok := names[w]; ok {
			return n
		}
		return w
	})
}

// open is an object schema with the given properties that keeps the fields it does not list.
func open(description string, props object) object {
	o := object{"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": props}
	if description != "" {
		o["description"] = description
	}
	return o
}

// versioned is the schema of an os-vif versioned-object primitive around data.
func versioned(description string, data object) object {
	return open(description, object{keyData: data})
}

// walk follows keys through nested objects; nil when one is missing.
func walk(v any, keys ...string) any {
	for _, k := range keys {
		o, ok := v.(object)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}
