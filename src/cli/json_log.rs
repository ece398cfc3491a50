//! Diagnostic log events (`tracing`, enabled by `BT_GITOPS_LOG`) as JSON lines, for `watch`,
//! whose stderr holds nothing but JSON log lines: each event becomes
//! `{"ts", "level", "event": "log", "target", "message", ...fields}`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// Formats each event as one JSON line.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        fields.insert(
            "target".to_owned(),
            Value::String(event.metadata().target().to_owned()),
        );
        event.record(&mut Fields(&mut fields));
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        let line = crate::controller::log_line(&level, "log", Value::Object(fields));
        writeln!(writer, "{line}")
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}
