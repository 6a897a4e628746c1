package redisstore

// Default caps of the audit streams (approximate, as XADD MAXLEN ~ trims).
const (
	DefaultAuditMaxLen     = 100_000
	DefaultUserAuditMaxLen = 1_000
)
