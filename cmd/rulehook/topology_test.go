package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestClusterLoginsAndPlaysOverEverySlot runs serve on a 3-master Redis Cluster: logins and app
// API play recording for users spread over all masters, with no CROSSSLOT and no degraded answer.
func TestClusterLoginsAndPlaysOverEverySlot(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	_, rdb := c.Open(t)
	setPlays := func(id string, n int) error {
		return rdb.Set(context.Background(), redisstore.PlaysKey(id), n, 0).Err()
	}
	s := startStackOn(t, map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(c.Addrs(), ",")}, setPlays, nil)

	owners := map[string]bool{}
	for i := range 30 {
		id := fmt.Sprintf("auth0|cluster%02d", i)
		owners[c.SlotOwner(c.KeySlot(redisstore.PlaysKey(id))).Addr()] = true
		u := s.seed(t, mgmttest.User{ID: id, UserMetadata: map[string]any{"displayName": "C"}}, 99)
		s.recordPlay(t, id) // the 100th play, through the app API
		code, a := s.callout(t, u)
		if code != http.StatusOK || join(a.Roles) != "playlist_editor" || len(a.Degraded) != 0 || !a.PlaysAre(100) {
			t.Fatalf("%s: callout = %d %+v; want 200, promoted at 100 plays, nothing degraded", id, code, a)
		}
	}
	if len(owners) != 3 {
		t.Errorf("users landed on %d masters; want all 3", len(owners))
	}
}

// TestSentinelFailoverNeverDemotes kills the master mid-run: every answer during the failover
// keeps the editor's role, and logins work again afterwards through the same process.
func TestSentinelFailoverNeverDemotes(t *testing.T) {
	sg := redistest.StartSentinel(t)
	setPlays := func(id string, n int) error {
		_, err := sg.Master().Do("SET", redisstore.PlaysKey(id), fmt.Sprint(n))
		return err
	}
	s := startStackOn(t, map[string]string{
		"REDIS_SENTINEL_ADDRS":  strings.Join(sg.Addrs(), ","),
		"REDIS_SENTINEL_MASTER": sg.MasterName(),
	}, setPlays, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|sentinel", AppMetadata: map[string]any{"roles": []any{"playlist_editor"}},
		UserMetadata: map[string]any{"displayName": "S"}}, 500)
	if _, err := sg.Master().Do("WAIT", "1", "2000"); err != nil { // the replica has the count
		t.Fatal(err)
	}

	old := sg.KillMaster()
	done := make(chan string, 1)
	go func() { done <- sg.WaitFailover(old.Addr()) }()
	degraded := 0
	for failedOver := false; !failedOver; {
		select {
		case <-done:
			failedOver = true
		default:
		}
		code, a := s.callout(t, u)
		if code != http.StatusOK || join(a.Roles) != "playlist_editor" {
			t.Fatalf("callout during failover = %d %+v; want 200 with the role kept", code, a)
		}
		if len(a.Degraded) > 0 {
			degraded++
		}
		time.Sleep(50 * time.Millisecond)
	}
	if degraded == 0 {
		t.Errorf("no callout was degraded while the master was down; the test did not see the outage")
	}
	testkit.WaitFor(t, func() error {
		if code, a := s.callout(t, u); code != http.StatusOK || len(a.Degraded) != 0 || !a.PlaysAre(500) {
			return fmt.Errorf("callout = %d %+v", code, a)
		}
		return nil
	})
	if n := s.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 {
		t.Errorf("PATCH requests = %d; want 0 (nothing was ever demoted)", n)
	}
}
