//! Processes and system information: `ps`, `kill`, `uname`, `hostname`, `nproc`, `free`,
//! `uptime`, `loadavg`.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, Map};
use tollgate_host::Host;

use super::flags;
use super::{host_error, invalid};

fn map<const N: usize>(fields: [(&str, Dynamic); N]) -> Dynamic {
    let m: Map = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    Dynamic::from_map(m)
}

pub(crate) fn register(engine: &mut Engine, host: Rc<Host>) {
    let h = Rc::clone(&host);
    engine.register_fn("ps", move || {
        let list = h.ps().map_err(host_error)?;
        let items: Array = list
            .into_iter()
            .map(|p| {
                map([
                    ("pid", Dynamic::from(i64::from(p.pid))),
                    ("ppid", Dynamic::from(i64::from(p.ppid))),
                    ("uid", Dynamic::from(i64::from(p.uid))),
                    ("user", Dynamic::from(p.user)),
                    ("name", Dynamic::from(p.name)),
                    ("command", Dynamic::from(p.command)),
                    ("state", Dynamic::from(p.state)),
                    ("cpu", Dynamic::from(p.cpu_seconds)),
                    ("rss", Dynamic::from(p.rss_bytes as i64)),
                    ("start_time", Dynamic::from(p.start_time as i64)),
                ])
            })
            .collect();
        Ok::<_, Box<rhai::EvalAltResult>>(Dynamic::from_array(items))
    });
    let h = Rc::clone(&host);
    engine.register_fn("kill", move |pid: i64| {
        h.kill(pid, "TERM").map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("kill", move |fl: Array, pid: i64| {
        let chosen = flags::parse("kill", &fl)?;
        let signal = match chosen.as_slice() {
            [] => "TERM",
            [one] => one.name,
            _ => return Err(invalid("kill takes one signal flag, e.g. [kill::KILL]")),
        };
        h.kill(pid, signal).map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("uname", move || {
        let u = h.uname().map_err(host_error)?;
        Ok::<_, Box<rhai::EvalAltResult>>(map([
            ("sysname", Dynamic::from(u.sysname)),
            ("nodename", Dynamic::from(u.nodename)),
            ("release", Dynamic::from(u.release)),
            ("version", Dynamic::from(u.version)),
            ("machine", Dynamic::from(u.machine)),
        ]))
    });
    let h = Rc::clone(&host);
    engine.register_fn("hostname", move || h.hostname().map_err(host_error));
    let h = Rc::clone(&host);
    engine.register_fn("nproc", move || {
        h.nproc().map(|n| n as i64).map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("free", move || {
        let m = h.free().map_err(host_error)?;
        let b = |v: u64| Dynamic::from(v as i64);
        Ok::<_, Box<rhai::EvalAltResult>>(map([
            ("total_bytes", b(m.total)),
            ("free_bytes", b(m.free)),
            ("available_bytes", b(m.available)),
            ("used_bytes", b(m.used)),
            ("buffers_bytes", b(m.buffers)),
            ("cached_bytes", b(m.cached)),
            ("swap_total_bytes", b(m.swap_total)),
            ("swap_free_bytes", b(m.swap_free)),
        ]))
    });
    let h = Rc::clone(&host);
    engine.register_fn("uptime", move || h.uptime().map_err(host_error));
    let h = host;
    engine.register_fn("loadavg", move || {
        let l = h.loadavg().map_err(host_error)?;
        Ok::<_, Box<rhai::EvalAltResult>>(map([
            ("one", Dynamic::from(l.one)),
            ("five", Dynamic::from(l.five)),
            ("fifteen", Dynamic::from(l.fifteen)),
        ]))
    });
}
