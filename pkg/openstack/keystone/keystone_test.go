package keystone

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

func TestNoKeystoneIsNotSupported(t *testing.T) {
	s, err := openstack.NoAuth(openstack.Options{NeutronEndpoint: "http://127.0.0.1:1/"})
	th.AssertNoErr(t, err)
	k, err := New(s)
	th.AssertNoErr(t, err)
	if _, err := k.GetProject(context.Background(), "p"); !errors.Is(err, openstack.ErrNotSupported) {
		t.Errorf("GetProject = %v", err)
	}
}

func TestGetProject(t *testing.T) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	fs.Mux.HandleFunc("/projects/p1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"project": {"id": "p1", "name": "k8s", "enabled": true}}`)
	})
	fs.Mux.HandleFunc("/projects/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	k := &keystone{identity: client.ServiceClient(fs)}
	p, err := k.GetProject(context.Background(), "p1")
	if err != nil || p.Name != "k8s" || !p.Enabled {
		t.Fatalf("GetProject = %+v, %v", p, err)
	}
	if _, err := k.GetProject(context.Background(), "gone"); !openstack.IsNotFound(err) {
		t.Errorf("missing project: %v", err)
	}
}
