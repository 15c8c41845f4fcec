// Package store defines what the service keeps and the interfaces by use
// over it: organizations and their tokens and users, policies, devices,
// device status and sync history, fwsync state, and leases. Package
// sqlstore implements them on SQLite and PostgreSQL; storetest is the one
// suite both must pass.
//
// Every query a tenant can reach is scoped by an organization ID: an object
// of another organization is reported as not found, never as forbidden.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// Errors a caller must tell apart.
var (
	// ErrNotFound: no such object in this organization.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an object of that name already exists, or the row was
	// changed by someone else since it was read.
	ErrConflict = errors.New("conflict")
	// ErrInUse: the object is referenced (a policy that devices use).
	ErrInUse = errors.New("in use")
)

// Roles of tokens and users.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// Org is an organization: the unit of tenancy.
type Org struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Token is an API token. Only the SHA-256 of the token is kept.
type Token struct {
	ID        int64
	OrgID     int64
	Name      string
	Role      string
	Hash      []byte
	CreatedAt time.Time
}

// User is a person who logs in to the portal.
type User struct {
	ID           int64
	OrgID        int64
	Name         string
	Role         string
	PasswordHash string
	CreatedAt    time.Time
}

// Policy is a named policy. Doc is the policy as JSON with the policy
// file's field names, with every secret value taken out; Secrets holds them,
// sealed (see package secret), or is nil when the policy has none.
type Policy struct {
	OrgID      int64
	Name       string
	Doc        []byte
	Secrets    []byte
	Predefined bool
	// Version grows by one at each change (optimistic concurrency, and the
	// scheduler's cue that devices using it must be compiled again).
	Version   int64
	UpdatedAt time.Time
}

// Credential kinds of a device.
const (
	CredAccessKey = "access_key"
	CredRole      = "role"
	CredAmbient   = "ambient"
)

// Device is one DNS Firewall rule group kept in sync with a policy. Its
// fields are the seed's form plus endpoint and priority band; validation
// lives in package device.
type Device struct {
	ID          int64
	OrgID       int64
	Nickname    string
	Provider    string
	Policy      string
	Note        string
	Region      string
	RuleGroupID string
	EndpointURL string
	// PriorityBand is "LO-HI" (fwsync.ParseBand).
	PriorityBand string
	CredKind     string
	AccessKeyID  string
	// SecretKey is the sealed secret access key (nil when there is none).
	SecretKey     []byte
	RoleARN       string
	ExternalID    string
	MaxPolicySize int
	MonitorOnly   bool
	LogEnabled    bool
	LogQueueURL   string
	// AccountID is learned (STS GetCallerIdentity or the role ARN) and
	// names the rate budget and lease the device belongs to.
	AccountID string
	Paused    bool
	// Generation grows at every change of the device's settings.
	Generation int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Device states.
const (
	StatePending = "pending"
	StateSyncing = "syncing"
	StateInSync  = "in_sync"
	StateError   = "error"
	StatePaused  = "paused"
)

// Status is a device's state as the scheduler last left it.
type Status struct {
	DeviceID int64
	State    string
	// Error is the reason of the error state; ErrorHard says it waits for a
	// change or "sync now" rather than a retry.
	Error     string
	ErrorHard bool
	// SyncRequested is set by "sync now" and cleared when a sync starts.
	SyncRequested bool
	// Retries counts soft failures since the last success; NextAttempt is
	// when the next try is due after one.
	Retries     int
	NextAttempt time.Time
	// Last policy update: the plan deployed last.
	PolicyUpdatedAt time.Time
	PlanHash        string
	PlanDomains     int
	PlanTruncated   int
	// Plan is the compiled plan's summary as JSON (api serves it).
	Plan []byte
	// SyncedGeneration and SyncedPolicyVersion are what the last
	// successful sync compiled from.
	SyncedGeneration    int64
	SyncedPolicyVersion int64
	LastSyncAt          time.Time
	LastSyncResult      string
	LastLogRetrieved    time.Time
	// VPCs are the VPC IDs the rule group is associated with (read at
	// every sync; the log pipeline attributes by them).
	VPCs      []string
	UpdatedAt time.Time
}

// Run results.
const (
	ResultOK        = "ok"
	ResultUnchanged = "unchanged"
	ResultError     = "error"
)

// SyncRun is one sync of a device, for its history.
type SyncRun struct {
	ID       int64
	DeviceID int64
	// Trigger says why it ran: "policy", "device", "feed", "reconcile",
	// "manual", "retry", "start".
	Trigger   string
	StartedAt time.Time
	Took      time.Duration
	Result    string
	Error     string
	PlanHash  string
	Calls     map[string]int
	Added     int
	Removed   int
	// UpdatesLowerBound is the fewest domain-update calls and CallsFloor
	// the fewest calls a safe sync of the run's changes could make
	// (fwsync.Result.LowerBound and Floor): how close Calls came to the
	// least possible. Both are 0 when the run made no plan (an error
	// before planning, a skipped unchanged sync, a run recorded before
	// they were kept).
	UpdatesLowerBound int
	CallsFloor        int
	Instance          string
}

// Orgs keeps organizations.
type Orgs interface {
	CreateOrg(ctx context.Context, name string) (Org, error)
	OrgByName(ctx context.Context, name string) (Org, error)
	ListOrgs(ctx context.Context) ([]Org, error)
}

// Tokens keeps API tokens.
type Tokens interface {
	CreateToken(ctx context.Context, t Token) (Token, error)
	// TokenByHash finds a token of any organization by its hash.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	ListTokens(ctx context.Context, orgID int64) ([]Token, error)
	DeleteToken(ctx context.Context, orgID, id int64) error
}

// Users keeps portal users. Names are unique across organizations.
type Users interface {
	CreateUser(ctx context.Context, u User) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context, orgID int64) ([]User, error)
}

// Policies keeps named policies.
type Policies interface {
	ListPolicies(ctx context.Context, orgID int64) ([]Policy, error)
	GetPolicy(ctx context.Context, orgID int64, name string) (Policy, error)
	// CreatePolicy fails with ErrConflict when the name is taken.
	CreatePolicy(ctx context.Context, p Policy) (Policy, error)
	// UpdatePolicy bumps Version; with p.Version > 0 it fails with
	// ErrConflict unless that is the stored version.
	UpdatePolicy(ctx context.Context, p Policy) (Policy, error)
	// DeletePolicy fails with ErrInUse while a device uses it.
	DeletePolicy(ctx context.Context, orgID int64, name string) error
}

// Devices keeps devices.
type Devices interface {
	ListDevices(ctx context.Context, orgID int64) ([]Device, error)
	// AllDevices lists the devices of every organization (the scheduler's
	// view).
	AllDevices(ctx context.Context) ([]Device, error)
	GetDevice(ctx context.Context, orgID int64, nickname string) (Device, error)
	DeviceByID(ctx context.Context, id int64) (Device, error)
	// CreateDevice fails with ErrConflict when the nickname is taken in the
	// organization, and with ErrNotFound when its policy does not exist.
	CreateDevice(ctx context.Context, d Device) (Device, error)
	// UpdateDevice bumps Generation.
	UpdateDevice(ctx context.Context, d Device) (Device, error)
	// SetAccount records the learned account without bumping Generation.
	SetAccount(ctx context.Context, id int64, account string) error
	// DeleteDevice removes the device with its status, runs and fwsync
	// state.
	DeleteDevice(ctx context.Context, id int64) error
}

// Statuses keeps device status and sync history.
type Statuses interface {
	// GetStatus returns the status, or a pending one when none is stored.
	GetStatus(ctx context.Context, deviceID int64) (Status, error)
	PutStatus(ctx context.Context, s Status) error
	// RequestSync sets SyncRequested (and clears a hard error's wait).
	RequestSync(ctx context.Context, deviceID int64) error
	AddRun(ctx context.Context, r SyncRun) (SyncRun, error)
	// ListRuns returns the newest runs first.
	ListRuns(ctx context.Context, deviceID int64, limit int) ([]SyncRun, error)
}

// SyncStates gives each device a fwsync state store in the database, so
// any instance can sync it.
type SyncStates interface {
	SyncState(deviceID int64) fwsync.StateStore
}

// Leases hand out time-limited exclusive holds on keys (an account and
// region: the unit of the rate budget).
type Leases interface {
	// AcquireLease takes or renews key for holder until now+ttl. It
	// returns false when another holder's lease has not expired.
	AcquireLease(ctx context.Context, key, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, key, holder string) error
	// LeaseHolder returns the current holder and expiry ("" when none).
	LeaseHolder(ctx context.Context, key string) (string, time.Time, error)
}

// Purposes bound to sealed values (see secret.Keyring.Seal).
const (
	PurposeDeviceSecret  = "device.secret_key"
	PurposePolicySecrets = "policy.secrets"
)

// Secrets lets key rotation reach every sealed value.
type Secrets interface {
	// Reseal calls f on every sealed value (with its purpose: PurposeDeviceSecret
	// or PurposePolicySecrets) and stores what it returns, in one
	// transaction: all are re-sealed or none. It returns how many.
	Reseal(ctx context.Context, f func(purpose string, old []byte) ([]byte, error)) (int, error)
}

// Store is everything the service keeps.
type Store interface {
	Orgs
	Tokens
	Users
	Sessions
	Policies
	Devices
	Statuses
	SyncStates
	Leases
	Secrets
	Logs
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
