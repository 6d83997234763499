//! The metrics and alarms a script reports, as Rex's scripts build them:
//! `MetricBuilder().name("queue_depth").value(12.0).unit(MetricUnitType::COUNT).publish()`,
//! `AlarmBuilder().type("DiskFull").details("/var at 98%").publish()`. What is published goes
//! into the run's output (`metrics` and `alarms`); it touches nothing on the host.
//!
//! Bounded, since a script could otherwise grow the output without limit: at most
//! [`MAX_METRICS`] metrics (a metric published again under the same name replaces the
//! earlier one, as in Rex) and [`MAX_ALARMS`] alarms, names and dimensions of at most
//! [`MAX_NAME`] bytes, [`MAX_DIMENSIONS`] dimensions a metric, details of at most
//! [`MAX_DETAILS`] bytes; and all of it, as JSON, counts against `--max-output` with the
//! result and the logs. Exceeding a bound ends the run with `RESOURCE_LIMIT_EXCEEDED`.

use std::cell::RefCell;
use std::collections::BTreeMap;

use rhai::{Dynamic, Engine, EvalAltResult, Position};
use serde::{Deserialize, Serialize};

use super::datetime::DateTime;
use super::invalid;
use super::objects::{enumeration, Kind};

/// Most distinct metrics (by name) a run reports.
pub const MAX_METRICS: usize = 1000;
/// Most alarms a run reports.
pub const MAX_ALARMS: usize = 1000;
/// Longest metric name, alarm type, dimension name or value, in bytes.
pub const MAX_NAME: usize = 256;
/// Most dimensions of one metric (CloudWatch's own limit).
pub const MAX_DIMENSIONS: usize = 30;
/// Longest alarm details, in bytes.
pub const MAX_DETAILS: usize = 4096;

enumeration! {
    /// A metric's unit (`MetricUnitType::COUNT`).
    #[allow(clippy::upper_case_acronyms)]
    pub(crate) enum MetricUnitType as "rex_metrics_and_alarms::common::MetricUnitType" in "MetricUnitType" { UNDEFINED, COUNT, TIME, MEGABYTES, PERCENT }
}

pub(crate) const METRIC_UNIT_KIND: Kind = MetricUnitType::KIND;

/// One published metric, as Rex's output shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub metric_name: String,
    pub metric_value: f64,
    /// `UNDEFINED`, `COUNT`, `TIME`, `MEGABYTES` or `PERCENT`.
    pub metric_unit: String,
    pub metric_dimension: BTreeMap<String, String>,
    /// When it was published, RFC 3339 in UTC.
    pub metric_timestamp: String,
}

/// One published alarm, as Rex's output shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    pub alarm_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_details: Option<String>,
}

/// What a run reported: its metrics, in the order first published, and its alarms; and, in
/// a shadow run, where the candidate policy disagreed (the gate's, not the script's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reports {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub alarms: Vec<Alarm>,
    #[serde(default)]
    pub shadow: Vec<tollgate_policy::ShadowDifference>,
}

impl Reports {
    /// The bytes these add to the output, as JSON.
    pub fn size(&self) -> usize {
        list_len(&self.metrics) + list_len(&self.alarms)
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.alarms.is_empty()
    }
}

/// The length of `value` as JSON, without keeping the text.
fn json_len(value: &impl Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and these types always encode.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// The JSON length of a list of items: theirs, the commas and the brackets; 0 when empty,
/// since an empty list is left out of the output.
fn list_len<T: Serialize>(items: &[T]) -> usize {
    if items.is_empty() {
        return 0;
    }
    items.iter().map(json_len).sum::<usize>() + items.len() + 1
}

/// This thread's run's reports, the JSON bytes they take, and `--max-output`.
struct Run {
    reports: Reports,
    bytes: usize,
    max_output: usize,
}

thread_local! {
    /// This thread's run's reports (one run at a time per thread, as with `raised`).
    static REPORTS: RefCell<Run> = RefCell::new(Run {
        reports: Reports::default(),
        bytes: 0,
        max_output: usize::MAX,
    });
}

/// Starts a run: forgets what an earlier run on this thread reported; `max_output` bounds
/// what this one may.
pub(crate) fn start(max_output: usize) {
    REPORTS.with(|r| {
        *r.borrow_mut() = Run {
            reports: Reports::default(),
            bytes: 0,
            max_output,
        }
    });
}

/// What the run reported, taken.
pub(crate) fn take() -> Reports {
    REPORTS.with(|r| {
        let mut r = r.borrow_mut();
        r.bytes = 0;
        std::mem::take(&mut r.reports)
    })
}

/// The JSON bytes of what the run reported so far.
pub(crate) fn size() -> usize {
    REPORTS.with(|r| r.borrow().reports.size())
}

fn too_large(what: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorDataTooLarge(what, Position::NONE).into()
}

/// Checks that `added` more bytes (and `removed` fewer) keep the reports within
/// `--max-output`, then lets `add` change them.
fn publish(
    added: usize,
    removed: usize,
    add: impl FnOnce(&mut Reports) -> Result<(), Box<EvalAltResult>>,
) -> Result<(), Box<EvalAltResult>> {
    REPORTS.with(|r| {
        let mut r = r.borrow_mut();
        // The item and its comma (a list's brackets, two bytes, are left to the final
        // count of the whole output, which is exact).
        let size = (r.bytes + added + 1).saturating_sub(removed);
        if size > r.max_output {
            return Err(too_large(format!(
                "the metrics and alarms published would be {size} bytes, more than --max-output ({} bytes)",
                r.max_output
            )));
        }
        add(&mut r.reports)?;
        r.bytes = size;
        Ok(())
    })
}

fn bounded(what: &str, text: &str, max: usize) -> Result<(), Box<EvalAltResult>> {
    if text.len() > max {
        return Err(too_large(format!(
            "{what} is {} bytes, more than the {max} a report may have",
            text.len()
        )));
    }
    Ok(())
}

/// Rex keeps names starting with "rex" (in any case) for its own metrics and alarms.
fn not_reserved(what: &str, name: &str) -> Result<(), Box<EvalAltResult>> {
    if name.to_lowercase().starts_with("rex") {
        return Err(invalid(format!(
            "Invalid {what} '{name}': script {what}s cannot start with Rex"
        )));
    }
    Ok(())
}

/// `MetricBuilder()`: a metric being described; `publish()` reports it.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricBuilder {
    name: Option<String>,
    value: Option<f64>,
    unit: Option<MetricUnitType>,
    dimensions: BTreeMap<String, String>,
}

/// `MetricDimensionsBuilder()`: name/value pairs for `MetricBuilder().dimensions(...)`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricDimensionsBuilder(BTreeMap<String, String>);

/// What `MetricDimensionsBuilder().build()` makes.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricDimensions(BTreeMap<String, String>);

/// `AlarmBuilder()`: an alarm being described; `publish()` reports it.
#[derive(Clone, Debug, Default)]
pub(crate) struct AlarmBuilder {
    alarm_type: Option<String>,
    details: Option<String>,
}

fn publish_metric(b: &mut MetricBuilder) -> Result<(), Box<EvalAltResult>> {
    let missing = |field: &str, call: &str| {
        invalid(format!(
            "MetricBuilder: {field} must be set ({call}) before publish()"
        ))
    };
    let name = b
        .name
        .clone()
        .ok_or_else(|| missing("metric_name", ".name(text)"))?;
    let value = b
        .value
        .ok_or_else(|| missing("metric_value", ".value(number)"))?;
    let unit = b
        .unit
        .ok_or_else(|| missing("metric_unit", ".unit(MetricUnitType::COUNT)"))?;
    if !value.is_finite() {
        return Err(invalid(format!(
            "MetricBuilder: the value of {name} is {value}; a metric's value must be a finite number"
        )));
    }
    not_reserved("metric name", &name)?;
    bounded("a metric name", &name, MAX_NAME)?;
    if b.dimensions.len() > MAX_DIMENSIONS {
        return Err(too_large(format!(
            "metric {name} has {} dimensions, more than {MAX_DIMENSIONS}",
            b.dimensions.len()
        )));
    }
    for (k, v) in &b.dimensions {
        bounded("a dimension name", k, MAX_NAME)?;
        bounded("a dimension value", v, MAX_NAME)?;
    }
    let timestamp = DateTime::now(true)
        .map(|d| d.rfc3339())
        .map_err(|e| invalid(e.message()))?;
    let metric = Metric {
        metric_name: name,
        metric_value: value,
        metric_unit: unit.name().to_owned(),
        metric_dimension: b.dimensions.clone(),
        metric_timestamp: timestamp,
    };
    let earlier = REPORTS.with(|r| {
        r.borrow()
            .reports
            .metrics
            .iter()
            .find(|m| m.metric_name == metric.metric_name)
            .map(|m| json_len(m) + 1)
            .unwrap_or(0)
    });
    publish(json_len(&metric), earlier, |r| {
        let count = r.metrics.len();
        match r
            .metrics
            .iter_mut()
            .find(|m| m.metric_name == metric.metric_name)
        {
            Some(earlier) => *earlier = metric,
            None if count == MAX_METRICS => {
                return Err(too_large(format!(
                    "metric {}: a run may publish at most {MAX_METRICS} metrics",
                    metric.metric_name
                )))
            }
            None => r.metrics.push(metric),
        }
        Ok(())
    })
}

fn publish_alarm(b: &mut AlarmBuilder) -> Result<(), Box<EvalAltResult>> {
    let alarm_type = b.alarm_type.clone().ok_or_else(|| {
        invalid("AlarmBuilder: alarm_type must be set (.type(text)) before publish()")
    })?;
    not_reserved("alarm type", &alarm_type)?;
    bounded("an alarm type", &alarm_type, MAX_NAME)?;
    if let Some(d) = &b.details {
        bounded("alarm details", d, MAX_DETAILS)?;
    }
    let alarm = Alarm {
        alarm_type,
        alarm_details: b.details.clone(),
    };
    publish(json_len(&alarm), 0, |r| {
        if r.alarms.len() == MAX_ALARMS {
            return Err(too_large(format!(
                "alarm {}: a run may publish at most {MAX_ALARMS} alarms",
                alarm.alarm_type
            )));
        }
        r.alarms.push(alarm);
        Ok(())
    })
}

pub(crate) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<MetricBuilder>("MetricBuilder");
    engine.register_type_with_name::<MetricDimensionsBuilder>("MetricDimensionsBuilder");
    engine.register_type_with_name::<MetricDimensions>("MetricDimensions");
    engine.register_type_with_name::<AlarmBuilder>("AlarmBuilder");
    // The setters take the builder by value and return it, as Rex's do: a chain builds, and
    // a setter called on a variable without using its result changes nothing.
    engine.register_fn("MetricBuilder", MetricBuilder::default);
    engine.register_fn("name", |mut b: MetricBuilder, name: &str| {
        b.name = Some(name.to_owned());
        b
    });
    engine.register_fn("value", |mut b: MetricBuilder, value: f64| {
        b.value = Some(value);
        b
    });
    engine.register_fn("unit", |mut b: MetricBuilder, unit: MetricUnitType| {
        b.unit = Some(unit);
        b
    });
    engine.register_fn("dimensions", |mut b: MetricBuilder, d: MetricDimensions| {
        b.dimensions = d.0;
        b
    });
    engine.register_fn("publish", publish_metric);
    engine.register_fn("MetricDimensionsBuilder", MetricDimensionsBuilder::default);
    engine.register_fn(
        "add",
        |mut b: MetricDimensionsBuilder, key: &str, value: &str| -> Result<_, Box<EvalAltResult>> {
            if b.0.len() == MAX_DIMENSIONS && !b.0.contains_key(key) {
                return Err(too_large(format!(
                    "a metric may have at most {MAX_DIMENSIONS} dimensions"
                )));
            }
            b.0.insert(key.to_owned(), value.to_owned());
            Ok(b)
        },
    );
    engine.register_fn("build", |b: MetricDimensionsBuilder| MetricDimensions(b.0));
    engine.register_fn("to_map", |d: &mut MetricDimensions| dimensions_map(&d.0));
    engine.register_fn("AlarmBuilder", AlarmBuilder::default);
    engine.register_fn("type", |mut b: AlarmBuilder, t: &str| {
        b.alarm_type = Some(t.to_owned());
        b
    });
    engine.register_fn("details", |mut b: AlarmBuilder, d: &str| {
        b.details = Some(d.to_owned());
        b
    });
    engine.register_fn("publish", publish_alarm);
}

fn dimensions_map(d: &BTreeMap<String, String>) -> rhai::Map {
    d.iter()
        .map(|(k, v)| (k.into(), Dynamic::from(v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_the_json_length() {
        let r = Reports {
            metrics: Vec::new(),
            alarms: vec![Alarm {
                alarm_type: "A".into(),
                alarm_details: None,
            }],
            ..Reports::default()
        };
        assert_eq!(r.size(), serde_json::to_string(&r.alarms).unwrap().len());
        assert_eq!(Reports::default().size(), 0);
    }
}
