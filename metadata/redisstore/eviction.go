package redisstore

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// PolicyNoEviction is the maxmemory-policy under which Redis never deletes a key to make room.
const PolicyNoEviction = "noeviction"

// MaxmemoryPolicy returns Redis's maxmemory-policy (CONFIG GET maxmemory-policy); on a Cluster,
// where the masters are asked in parallel, the alphabetically first policy other than noeviction
// that any master has, or noeviction when every master that answers has it.
// Under any other policy Redis may delete play counts when it is full, and an absent count is
// "not recorded" (CONTRACT rule 6): nobody is demoted, but nobody is promoted either until the
// user plays again. It returns "" and a nil error when the server refuses CONFIG GET (managed Redis
// often renames or forbids CONFIG): the policy is then unknown. Other errors wrap
// metadata.ErrUnavailable.
func (s *Store) MaxmemoryPolicy(ctx context.Context) (string, error) {
	cc, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		return policyOf(ctx, s.rdb)
	}
	var mu sync.Mutex
	worst := ""
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		p, err := policyOf(ctx, node)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil || p == "":
		case p == PolicyNoEviction:
			worst = cmp.Or(worst, p)
		case worst == "" || worst == PolicyNoEviction || p < worst:
			worst = p
		}
		return err
	})
	return worst, err
}

type configGetter interface {
	ConfigGet(ctx context.Context, parameter string) *redis.MapStringStringCmd
}

func policyOf(ctx context.Context, c configGetter) (string, error) {
	m, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
	switch {
	case refused(err):
		return "", nil
	case err != nil:
		return "", fail("config get maxmemory-policy", err)
	}
	return m["maxmemory-policy"], nil
}

// refused reports an error reply that means "you may not run CONFIG": an unknown or renamed
// command, an ACL refusal, or a provider's own message.
func refused(err error) bool {
	var rerr redis.Error
	if err == nil || !errors.As(err, &rerr) {
		return false
	}
	msg := strings.ToUpper(rerr.Error())
	return strings.HasPrefix(msg, "NOPERM") || strings.Contains(msg, "UNKNOWN COMMAND") ||
		strings.Contains(msg, "UNKNOWN SUBCOMMAND") || strings.Contains(msg, "NOT ALLOWED") ||
		strings.Contains(msg, "DISABLED") || strings.Contains(msg, "FORBIDDEN")
}
