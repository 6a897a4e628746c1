package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/importer"
	"github.com/rulehook/rulehook/metadata/importer/pgsource"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// importRedisTimeout is the least Redis timeout of an import: a batch is a pipeline of a
// thousand scripts, which a busy Redis may take longer than a login's timeout to answer.
const importRedisTimeout = 5 * time.Second

type importFlags struct {
	from, mode, report   string
	plays, genres, songs string
	dryRun               bool
	batch                int
	setQueries           []string
}

func runImport(ctx context.Context, args []string, env *environment) error {
	f, err := parseImportFlags(args, env)
	if err != nil {
		return err
	}
	cfg, err := loadRedisConfig(env.getenv)
	if err != nil {
		return err
	}
	src, closeSrc, err := f.openSource(ctx)
	if err != nil {
		return importExit(err)
	}
	defer closeSrc()

	cfg.RedisTimeout = max(cfg.RedisTimeout, importRedisTimeout)
	rdb, err := cfg.openRedis()
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := redisstore.New(rdb)
	if !f.dryRun {
		if err := store.Ping(ctx); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("import: Redis: %w", err)}
		}
	}
	return f.run(ctx, src, store, env)
}

func parseImportFlags(args []string, env *environment) (*importFlags, error) {
	f := &importFlags{}
	fs := newFlagSet(env, "import", envTable("environment", redisEnv()))
	fs.StringVar(&f.from, "from", "", "a postgres:// URL of the old app's database, or a CSV file with the header user_id,plays")
	fs.StringVar(&f.plays, "plays-query", "", "SELECT of user_id and the play count (PostgreSQL; none: plays are not imported)")
	fs.StringVar(&f.genres, "genres-query", pgsource.DefaultGenresQuery, "SELECT of user_id and the favourite genre (PostgreSQL; '' skips genres)")
	fs.StringVar(&f.songs, "songs-query", pgsource.DefaultSongsQuery, "SELECT of user_id and a song name, each user's rows together in order (PostgreSQL; '' skips songs)")
	fs.StringVar(&f.mode, "plays-mode", string(metadata.PlaysMax), "set: replace stored counts; max: keep a higher count already in Redis")
	fs.StringVar(&f.report, "report", "", "write every skipped row to this CSV file")
	fs.BoolVar(&f.dryRun, "dry-run", false, "read and check everything, write nothing")
	fs.IntVar(&f.batch, "batch", importer.DefaultBatch, "rows per Redis pipeline")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) {
		if strings.HasSuffix(fl.Name, "-query") {
			f.setQueries = append(f.setQueries, "--"+fl.Name)
		}
	})
	switch {
	case f.from == "":
		return nil, usageErrorf("import: --from is required (a postgres:// URL or a CSV file)")
	case f.mode != string(metadata.PlaysSet) && f.mode != string(metadata.PlaysMax):
		return nil, usageErrorf("import: --plays-mode must be set or max")
	case f.batch < 1 || f.batch > 100_000:
		return nil, usageErrorf("import: --batch must be between 1 and 100000")
	case !f.postgres() && len(f.setQueries) > 0:
		return nil, usageErrorf("import: %s need a postgres:// --from; a CSV file holds plays only", strings.Join(f.setQueries, ", "))
	}
	return f, nil
}

func (f *importFlags) postgres() bool {
	return strings.HasPrefix(f.from, "postgres://") || strings.HasPrefix(f.from, "postgresql://")
}

func (f *importFlags) openSource(ctx context.Context) (importer.Source, func(), error) {
	if !f.postgres() {
		src, err := importer.OpenCSV(f.from)
		return src, func() {}, err
	}
	src, err := pgsource.Open(ctx, f.from, pgsource.Queries{Plays: f.plays, Genres: f.genres, Songs: f.songs})
	if err != nil {
		return nil, nil, err
	}
	return src, func() { src.Close(context.WithoutCancel(ctx)) }, nil
}

func (f *importFlags) run(ctx context.Context, src importer.Source, store *redisstore.Store, env *environment) error {
	opts := importer.Options{Mode: metadata.PlaysMode(f.mode), DryRun: f.dryRun, Batch: f.batch,
		Progress: env.stderr, Terminal: isTerminal(env.stderr)}
	if f.report != "" {
		rf, err := os.OpenFile(f.report, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return usageErrorf("import: --report: %v", err)
		}
		defer rf.Close()
		opts.Report = rf
	}
	sum, err := importer.Run(ctx, src, store, opts)
	if sum != nil {
		sum.Print(env.stdout)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("import interrupted (what was written stays; running again is safe)")
	}
	if err != nil {
		return importExit(fmt.Errorf("%w (what was written stays; running again is safe)", err))
	}
	if !sum.Complete() {
		return &exitError{code: 1, err: fmt.Errorf("import: %d rows skipped%s", sum.Skipped, reportHint(f.report))}
	}
	return nil
}

func reportHint(path string) string {
	if path == "" {
		return " (--report FILE lists them all)"
	}
	return "; all are listed in " + path
}

// importExit gives a usage or connection error exit status 2, anything else 1.
func importExit(err error) error {
	if errors.Is(err, importer.ErrUsage) || errors.Is(err, importer.ErrConnect) || errors.Is(err, metadata.ErrUnavailable) {
		return &exitError{code: 2, err: fmt.Errorf("import: %w", err)}
	}
	return fmt.Errorf("import: %w", err)
}
