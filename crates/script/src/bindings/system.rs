//! Processes and system information: `ps`, `kill`, `uname`, `hostname`, `nproc`, `free`,
//! `uptime`, `loadavg`.

use super::objects::Kind;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine};
use tollgate_host::Host;

use super::flags;
use super::{host_error, invalid, map};

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
    let h = Rc::clone(&host);
    engine.register_fn("resolve", move |name: &str| {
        let addrs = h.resolve(name).map_err(host_error)?;
        Ok::<_, Box<rhai::EvalAltResult>>(Dynamic::from_array(
            addrs.into_iter().map(Dynamic::from).collect(),
        ))
    });
    let h = Rc::clone(&host);
    engine.register_fn("sysctl_read", move |key: &str| {
        h.sysctl_read(key).map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("sysctl_write", move |key: &str, value: &str| {
        h.sysctl_write(key, value).map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("dmesg", move || {
        let lines = h.dmesg().map_err(host_error)?;
        Ok::<_, Box<rhai::EvalAltResult>>(Dynamic::from_array(
            lines.into_iter().map(Dynamic::from).collect(),
        ))
    });
    register_disks(engine, &host);
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

fn register_disks(engine: &mut Engine, host: &Rc<Host>) {
    let n = |v: u64| Dynamic::from(v as i64);
    let h = Rc::clone(host);
    engine.register_fn("df", move || {
        let mounts = h.df().map_err(host_error)?;
        let items: Array = mounts
            .into_iter()
            .map(|m| {
                let pct = if m.size_bytes == 0 {
                    0.0
                } else {
                    m.used_bytes as f64 * 100.0 / m.size_bytes as f64
                };
                map([
                    ("filesystem", Dynamic::from(m.filesystem)),
                    ("mount_point", Dynamic::from(m.mount_point)),
                    ("type", Dynamic::from(m.fs_type)),
                    ("size_bytes", n(m.size_bytes)),
                    ("used_bytes", n(m.used_bytes)),
                    ("available_bytes", n(m.available_bytes)),
                    ("use_percent", Dynamic::from(pct)),
                    ("inodes", n(m.inodes)),
                    ("inodes_free", n(m.inodes_free)),
                ])
            })
            .collect();
        Ok::<_, Box<rhai::EvalAltResult>>(Dynamic::from_array(items))
    });
    let h = Rc::clone(host);
    engine.register_fn("lsblk", move || {
        let devices = h.lsblk().map_err(host_error)?;
        let items: Array = devices
            .into_iter()
            .map(|d| {
                map([
                    ("name", Dynamic::from(d.name)),
                    ("size_bytes", n(d.size_bytes)),
                    ("removable", Dynamic::from(d.removable)),
                    ("read_only", Dynamic::from(d.read_only)),
                ])
            })
            .collect();
        Ok::<_, Box<rhai::EvalAltResult>>(Dynamic::from_array(items))
    });
    let h = Rc::clone(host);
    engine.register_fn("iostat", move || {
        let stats = h.iostat().map_err(host_error)?;
        let items: Array = stats
            .into_iter()
            .map(|s| {
                map([
                    ("device", Dynamic::from(s.device)),
                    ("reads_completed", n(s.reads_completed)),
                    ("read_bytes", n(s.sectors_read * 512)),
                    ("read_ms", n(s.read_ms)),
                    ("writes_completed", n(s.writes_completed)),
                    ("written_bytes", n(s.sectors_written * 512)),
                    ("write_ms", n(s.write_ms)),
                    ("io_in_progress", n(s.io_in_progress)),
                    ("io_ms", n(s.io_ms)),
                ])
            })
            .collect();
        Ok::<_, Box<rhai::EvalAltResult>>(Dynamic::from_array(items))
    });
}
