//! The emulator's in-memory state: one table per object kind, ids, the clock, and persistence.
//!
//! Every object is kept as its wire JSON (`Record::object`), so a response is the stored object as is.
//! Write-only values (AI secrets, env var values, raw keys and tokens) live beside it in
//! `Record::secret` and are never part of `object`.
//!
//! Order: each record gets a sequence number from one monotonic counter at creation; lists walk a
//! table by descending sequence number, so "newest first" is deterministic even when two objects
//! share a timestamp. Deleted records stay in their table (marked `deleted`) so that a cursor naming
//! a deleted object still has a position; they are invisible to every read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::profile::Profile;
use crate::api::wire::JsonMap;

pub use crate::vocab::{ALL_COLLECTIONS, Collection};

/// One stored object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Creation order, unique across all kinds.
    pub seq: u64,
    /// The organization that owns the object (empty for users, who may belong to several).
    pub org_id: String,
    /// Set by DELETE; a deleted record is invisible to every read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// The write-only value (secret, env var value, raw key); never returned by reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// For keys and tokens: the user or service account they authenticate as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// For users: whether this is a service account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service_account: bool,
    /// The object exactly as the API returns it.
    pub object: JsonMap,
}

impl Record {
    /// The object's `id`.
    pub fn id(&self) -> &str {
        self.object.get("id").and_then(Value::as_str).unwrap_or("")
    }

    /// A string field of the object, or `""`.
    pub fn str_field(&self, field: &str) -> &str {
        self.object.get(field).and_then(Value::as_str).unwrap_or("")
    }
}

/// The records of one kind, by sequence number, with an id index and a natural-key index.
#[derive(Debug, Clone, Default)]
pub struct Table {
    by_seq: BTreeMap<u64, Record>,
    by_id: HashMap<String, u64>,
    by_key: HashMap<String, u64>,
}

impl Table {
    /// Every record, deleted ones included, newest first.
    pub fn newest_first(&self) -> impl DoubleEndedIterator<Item = &Record> {
        self.by_seq.values().rev()
    }

    /// Live records, newest first.
    pub fn live(&self) -> impl Iterator<Item = &Record> {
        self.newest_first().filter(|r| !r.deleted)
    }

    /// How many records (deleted ones included) the table holds.
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// Whether the table holds no record at all.
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    /// The record with this id, deleted or not.
    pub fn get_any(&self, id: &str) -> Option<&Record> {
        self.by_id.get(id).and_then(|seq| self.by_seq.get(seq))
    }

    /// The live record with this id.
    pub fn get(&self, id: &str) -> Option<&Record> {
        self.get_any(id).filter(|r| !r.deleted)
    }

    /// The live record with this natural key.
    pub fn get_by_key(&self, key: &str) -> Option<&Record> {
        self.by_key.get(key).and_then(|seq| self.by_seq.get(seq))
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Record> {
        let seq = self.by_id.get(id)?;
        self.by_seq.get_mut(seq)
    }
}

/// Where ids and timestamps come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clock {
    /// Counter-based ids and a clock that ticks one second per reading.
    pub deterministic: bool,
    /// The next counter value (ids and deterministic ticks).
    pub counter: u64,
    /// The state of the random generator used outside deterministic mode.
    pub rng: u64,
}

/// The instant deterministic clocks start at: 2026-01-01T00:00:00Z.
const DETERMINISTIC_EPOCH_MS: i64 = 1_767_225_600_000;

impl Clock {
    /// A clock; random ids are seeded from the system time.
    pub fn new(deterministic: bool) -> Clock {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Clock {
            deterministic,
            counter: 1,
            rng: nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    fn next_counter(&mut self) -> u64 {
        let n = self.counter;
        self.counter += 1;
        n
    }

    /// The next pseudo-random number (splitmix64).
    pub fn next_random(&mut self) -> u64 {
        splitmix64(&mut self.rng)
    }

    /// A new UUID: `00000000-0000-4000-8000-<counter>` in deterministic mode, a random v4 otherwise.
    pub fn new_id(&mut self) -> String {
        if self.deterministic {
            format!("00000000-0000-4000-8000-{:012x}", self.next_counter())
        } else {
            let hi = self.next_random();
            let lo = self.next_random();
            let bytes: Vec<u8> = hi
                .to_be_bytes()
                .into_iter()
                .chain(lo.to_be_bytes())
                .collect();
            let mut b = [0u8; 16];
            b.copy_from_slice(&bytes);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            )
        }
    }

    /// A new secret token: `<prefix>emulator-<counter>` in deterministic mode, 40 random characters otherwise.
    pub fn new_token(&mut self, prefix: &str) -> String {
        if self.deterministic {
            format!("{prefix}emulator-{:016x}", self.next_counter())
        } else {
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            let text: String = (0..40)
                .map(|_| ALPHABET[(self.next_random() % ALPHABET.len() as u64) as usize] as char)
                .collect();
            format!("{prefix}{text}")
        }
    }

    /// The current time as an ISO-8601 UTC timestamp with milliseconds.
    pub fn now(&mut self) -> String {
        let ms = if self.deterministic {
            DETERMINISTIC_EPOCH_MS + (self.next_counter() as i64) * 1000
        } else {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        };
        format_timestamp(ms)
    }
}

/// One step of splitmix64.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_timestamp(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Masks a secret for `preview_secret` / `preview_name`: the first two and last four characters.
pub fn preview(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 6 {
        return "…".to_owned();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// The whole state of an emulated Braintrust.
#[derive(Debug, Clone)]
pub struct Store {
    /// Ids and time.
    pub clock: Clock,
    /// The next sequence number.
    next_seq: u64,
    tables: BTreeMap<Collection, Table>,
    /// `(org_id, user_id)` pairs: who is a member of which org.
    pub members: BTreeSet<(String, String)>,
    /// Raw key or token -> (kind, id) of its `api_key` / `service_token` record.
    credentials: HashMap<String, (Collection, String)>,
    /// Export automations registered with `POST /automation/cron`: automation id -> id of the
    /// `api_key` or `service_token` record its runs use.
    pub cron: BTreeMap<String, String>,
    /// Every version of each function and prompt, by id, oldest first: a list with `version=`
    /// finds earlier versions too.
    versions: HashMap<String, Vec<JsonMap>>,
    /// The rules followed where the real API is unsure (not persisted: a state file loads under
    /// whichever profile the emulator starts with).
    pub profile: Profile,
}

/// The persisted form of a [`Store`] (`--state FILE`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version of this document.
    pub format_version: u32,
    pub clock: Clock,
    pub next_seq: u64,
    pub members: Vec<(String, String)>,
    pub records: BTreeMap<Collection, Vec<Record>>,
    /// [`Store::cron`] (absent in files written before it was kept).
    #[serde(default)]
    pub cron: BTreeMap<String, String>,
    /// [`Store::versions`], by id (absent in files written before they were kept: only the
    /// current versions are known then).
    #[serde(default)]
    pub versions: BTreeMap<String, Vec<JsonMap>>,
}

/// The current [`Snapshot::format_version`].
pub const SNAPSHOT_VERSION: u32 = 1;

/// A failure to read or write the state file.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot access emulator state `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("emulator state `{path}` is not valid: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("emulator state `{path}` has format version {found}, expected {SNAPSHOT_VERSION}")]
    Version { path: String, found: u32 },
}

impl Store {
    /// An empty store.
    pub fn new(deterministic: bool) -> Store {
        Store {
            clock: Clock::new(deterministic),
            next_seq: 1,
            tables: BTreeMap::new(),
            members: BTreeSet::new(),
            credentials: HashMap::new(),
            cron: BTreeMap::new(),
            versions: HashMap::new(),
            profile: Profile::default(),
        }
    }

    /// The table of a kind (empty when nothing was ever stored).
    pub fn table(&self, kind: Collection) -> &Table {
        static EMPTY: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
        self.tables
            .get(&kind)
            .unwrap_or_else(|| EMPTY.get_or_init(Table::default))
    }

    /// The live record of a kind with this id.
    pub fn get(&self, kind: Collection, id: &str) -> Option<&Record> {
        self.table(kind).get(id)
    }

    /// Inserts a new record and indexes it; returns its sequence number.
    pub fn insert(&mut self, kind: Collection, mut record: Record) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        record.seq = seq;
        let id = record.id().to_owned();
        if let Some(secret) = &record.secret
            && matches!(kind, Collection::ApiKey | Collection::ServiceToken)
        {
            self.credentials.insert(secret.clone(), (kind, id.clone()));
        }
        self.keep_version(kind, &id, &record.object);
        let key = natural_key_in(&self.profile, kind, &record);
        let table = self.tables.entry(kind).or_default();
        table.by_id.insert(id, seq);
        if let Some(key) = key {
            table.by_key.insert(key, seq);
        }
        table.by_seq.insert(seq, record);
        seq
    }

    /// Records a version of a function or prompt (a new `_xact_id`).
    fn keep_version(&mut self, kind: Collection, id: &str, object: &JsonMap) {
        if !matches!(kind, Collection::Function | Collection::Prompt) {
            return;
        }
        let versions = self.versions.entry(id.to_owned()).or_default();
        if versions.last().and_then(|v| v.get("_xact_id")) != object.get("_xact_id") {
            versions.push(object.clone());
        }
    }

    /// The function or prompt `id` as it was at version `xact` (its `_xact_id`), if it had it.
    pub fn version_of(&self, id: &str, xact: &str) -> Option<&JsonMap> {
        self.versions
            .get(id)?
            .iter()
            .rev()
            .find(|v| v.get("_xact_id").and_then(Value::as_str) == Some(xact))
    }

    /// Replaces the object (and secret) of a live record, keeping its sequence number, and re-indexes it.
    pub fn update(&mut self, kind: Collection, id: &str, object: JsonMap, secret: Option<String>) {
        self.keep_version(kind, id, &object);
        let Some(table) = self.tables.get_mut(&kind) else {
            return;
        };
        let Some(record) = table.get_mut(id) else {
            return;
        };
        let old_key = natural_key_in(&self.profile, kind, record);
        record.object = object;
        record.secret = secret;
        let new_key = natural_key_in(&self.profile, kind, record);
        let seq = record.seq;
        if let Some(old) = old_key {
            table.by_key.remove(&old);
        }
        if let Some(new) = new_key {
            table.by_key.insert(new, seq);
        }
    }

    /// Marks a record deleted (filling `deleted_at` where the kind has it) and returns its final object.
    pub fn delete(&mut self, kind: Collection, id: &str) -> Option<JsonMap> {
        let now = self.clock.now();
        let table = self.tables.get_mut(&kind)?;
        let record = table.get_mut(id)?;
        if record.deleted {
            return None;
        }
        let key = natural_key_in(&self.profile, kind, record);
        record.deleted = true;
        if kind.has_deleted_at() {
            record
                .object
                .insert("deleted_at".into(), Value::String(now));
        }
        let object = record.object.clone();
        if let Some(secret) = record.secret.clone() {
            self.credentials.remove(&secret);
        }
        if let Some(key) = key {
            table.by_key.remove(&key);
        }
        Some(object)
    }

    /// The live key or token record for a raw credential.
    pub fn credential(&self, raw: &str) -> Option<(Collection, &Record)> {
        let (kind, id) = self.credentials.get(raw)?;
        self.get(*kind, id).map(|r| (*kind, r))
    }

    /// Registers a raw credential for a key or token record.
    pub fn add_credential(&mut self, kind: Collection, id: &str, raw: &str) {
        self.credentials
            .insert(raw.to_owned(), (kind, id.to_owned()));
    }

    /// Forgets the raw credential of a key or token record.
    pub fn delete_credential(&mut self, record: &Record) {
        if let Some(secret) = &record.secret {
            self.credentials.remove(secret);
        }
    }

    /// Whether a user is a member of an org.
    pub fn is_member(&self, org_id: &str, user_id: &str) -> bool {
        self.members
            .contains(&(org_id.to_owned(), user_id.to_owned()))
    }

    /// The live org with this name.
    pub fn org_by_name(&self, name: &str) -> Option<&Record> {
        self.table(Collection::Organization).get_by_key(name)
    }

    /// The live user with this email (case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<&Record> {
        self.table(Collection::User)
            .get_by_key(&email.to_ascii_lowercase())
    }

    /// Serializes the whole store.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            format_version: SNAPSHOT_VERSION,
            clock: self.clock.clone(),
            next_seq: self.next_seq,
            members: self.members.iter().cloned().collect(),
            records: self
                .tables
                .iter()
                .map(|(kind, table)| (*kind, table.by_seq.values().cloned().collect()))
                .collect(),
            cron: self.cron.clone(),
            versions: self
                .versions
                .iter()
                .map(|(id, v)| (id.clone(), v.clone()))
                .collect(),
        }
    }

    /// Rebuilds a store, with its indexes, from a snapshot.
    pub fn from_snapshot(snapshot: Snapshot) -> Store {
        let mut store = Store {
            clock: snapshot.clock,
            next_seq: 1,
            tables: BTreeMap::new(),
            members: snapshot.members.into_iter().collect(),
            credentials: HashMap::new(),
            cron: snapshot.cron,
            versions: snapshot.versions.into_iter().collect(),
            profile: Profile::default(),
        };
        for (kind, records) in snapshot.records {
            for record in records {
                let seq = record.seq;
                let id = record.id().to_owned();
                if !record.deleted
                    && let Some(secret) = &record.secret
                    && matches!(kind, Collection::ApiKey | Collection::ServiceToken)
                {
                    store.credentials.insert(secret.clone(), (kind, id.clone()));
                }
                let key = if record.deleted {
                    None
                } else {
                    natural_key(kind, &record)
                };
                let table = store.tables.entry(kind).or_default();
                table.by_id.insert(id, seq);
                if let Some(key) = key {
                    table.by_key.insert(key, seq);
                }
                table.by_seq.insert(seq, record);
            }
        }
        store.next_seq = snapshot.next_seq.max(
            store
                .tables
                .values()
                .filter_map(|t| t.by_seq.keys().next_back())
                .max()
                .map_or(1, |s| s + 1),
        );
        store
    }

    /// Loads a store from a state file.
    ///
    /// # Errors
    /// When the file cannot be read, is not a snapshot, or has another format version.
    pub fn load(path: &Path) -> Result<Store, PersistError> {
        let shown = path.display().to_string();
        let text = fs_err::read_to_string(path).map_err(|source| PersistError::Io {
            path: shown.clone(),
            source,
        })?;
        let snapshot: Snapshot =
            serde_json::from_str(&text).map_err(|source| PersistError::Parse {
                path: shown.clone(),
                source,
            })?;
        if snapshot.format_version != SNAPSHOT_VERSION {
            return Err(PersistError::Version {
                path: shown,
                found: snapshot.format_version,
            });
        }
        Ok(Store::from_snapshot(snapshot))
    }

    /// Writes the store to a state file atomically: a temporary file beside it (mode 0600), then a
    /// rename.
    ///
    /// # Errors
    /// When the temporary file cannot be written or renamed.
    pub fn save(&self, path: &Path) -> Result<(), PersistError> {
        let io = |source| PersistError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_string_pretty(&self.snapshot()).map_err(|source| {
            PersistError::Parse {
                path: path.display().to_string(),
                source,
            }
        })?;
        // The state holds every key and secret: only its owner may read it.
        crate::private_file::write(path, text.as_bytes()).map_err(io)
    }
}

/// The natural key of a live record: the identity that POST deduplicates on and PUT replaces by.
///
/// Kinds without one (service tokens, API keys) return `None`.
pub fn natural_key_in(profile: &Profile, kind: Collection, record: &Record) -> Option<String> {
    let per_org = match kind {
        Collection::ProjectAutomation => profile.automation_names_per_org,
        Collection::SpanIframe => profile.span_iframe_names_per_org,
        _ => false,
    };
    if per_org {
        return Some(format!(
            "{}\u{0}{}",
            record.org_id,
            record.str_field("name")
        ));
    }
    natural_key(kind, record)
}

/// The natural key of a record under the default answers; see [`natural_key_in`].
pub fn natural_key(kind: Collection, record: &Record) -> Option<String> {
    let f = |name: &str| record.str_field(name).to_owned();
    let key = match kind {
        Collection::Organization => f("name"),
        Collection::User => f("email").to_ascii_lowercase(),
        Collection::Project | Collection::Group | Collection::Role | Collection::AiSecret => {
            format!("{}\u{0}{}", record.org_id, f("name"))
        }
        Collection::Environment => format!("{}\u{0}{}", record.org_id, f("slug")),
        Collection::ProjectTag
        | Collection::ProjectScore
        | Collection::ProjectAutomation
        | Collection::SpanIframe
        | Collection::McpServer => format!("{}\u{0}{}", f("project_id"), f("name")),
        Collection::Experiment | Collection::Dataset => {
            format!("{}\u{0}{}", f("project_id"), f("name"))
        }
        Collection::Function | Collection::Prompt => {
            format!("{}\u{0}{}", f("project_id"), f("slug"))
        }
        Collection::View => format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            f("object_type"),
            f("object_id"),
            record
                .object
                .get("view_type")
                .and_then(Value::as_str)
                .unwrap_or("null"),
            f("name")
        ),
        Collection::EnvVar => format!(
            "{}\u{0}{}\u{0}{}",
            f("object_type"),
            f("object_id"),
            f("name")
        ),
        Collection::Acl => [
            "object_type",
            "object_id",
            "user_id",
            "group_id",
            "permission",
            "role_id",
            "restrict_object_type",
        ]
        .iter()
        .map(|k| f(k))
        .collect::<Vec<_>>()
        .join("\u{0}"),
        Collection::ServiceToken | Collection::ApiKey => return None,
    };
    if kind == Collection::User && key.is_empty() {
        return None;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(DETERMINISTIC_EPOCH_MS),
            "2026-01-01T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
    }

    #[test]
    fn ids_are_uuids() {
        let mut clock = Clock::new(false);
        for _ in 0..100 {
            let id = clock.new_id();
            assert!(crate::api::wire::Id::parse(&id).is_ok(), "{id}");
            assert_eq!(&id[14..15], "4");
        }
        let mut clock = Clock::new(true);
        assert_eq!(clock.new_id(), "00000000-0000-4000-8000-000000000001");
    }

    #[test]
    fn previews_hide_the_middle() {
        assert_eq!(preview("sk-abcdefghijkl"), "sk…ijkl");
        assert_eq!(preview("short"), "…");
    }
}
