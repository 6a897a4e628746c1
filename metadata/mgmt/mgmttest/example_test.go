package mgmttest_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// The emulated tenant behind the real go-auth0 client: the bare Host(), and WithInsecure before
// WithClientCredentials, or go-auth0 builds an https token URL.
func Example() {
	s := mgmttest.New()
	defer s.Close()
	s.PutUser(mgmttest.User{ID: "auth0|123", AppMetadata: map[string]any{"roles": []any{"admin"}, "plan": "gold"}})

	ctx := context.Background()
	m, err := client.New(s.Host(), option.WithInsecure(),
		option.WithClientCredentials(ctx, s.ClientID(), s.ClientSecret()))
	if err != nil {
		panic(err)
	}
	_, err = m.Users.Update(ctx, "auth0|123", &management.UpdateUserRequestContent{
		AppMetadata: &management.AppMetadata{"roles": []any{"admin", "playlist_editor"}},
	})
	if err != nil {
		panic(err)
	}
	u, _ := s.User("auth0|123")
	fmt.Println(u.AppMetadata["roles"], u.AppMetadata["plan"])
	fmt.Println(s.TokenRequests(), s.Count(http.MethodPatch, "/api/v2/users/auth0|123"))
	// Output:
	// [admin playlist_editor] gold
	// 1 1
}
