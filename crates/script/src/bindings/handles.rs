//! The handle API that Rex's read-file sample uses:
//! `DirConfig().path(p).build().open(OpenDirOptions().build())`,
//! `dir.open_file(name, OpenFileOptions().read(true).build())`, `file.read()`.

use super::objects::Kind;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];

use std::cell::RefCell;
use std::rc::Rc;

use rhai::Engine;
use tollgate_host::fs::{DirHandle, FileHandle};
use tollgate_host::Host;

use super::exec::{self, ExecuteOptions};
use super::{host_error, invalid};

#[derive(Clone, Debug, Default)]
struct DirConfigBuilder {
    path: Option<String>,
}

#[derive(Clone, Debug)]
struct DirConfig {
    path: String,
}

#[derive(Clone, Debug, Default)]
struct OpenDirOptions;

#[derive(Clone, Debug, Default)]
struct OpenFileOptions {
    read: bool,
}

#[derive(Clone, Debug)]
struct Dir(Rc<DirHandle>);

#[derive(Clone, Debug)]
struct File(Rc<RefCell<FileHandle>>);

pub(crate) fn register(engine: &mut Engine, host: Rc<Host>) {
    engine
        .register_type_with_name::<DirConfigBuilder>("DirConfigBuilder")
        .register_type_with_name::<DirConfig>("DirConfig")
        .register_type_with_name::<OpenDirOptions>("OpenDirOptions")
        .register_type_with_name::<OpenFileOptions>("OpenFileOptions")
        .register_type_with_name::<Dir>("Dir")
        .register_type_with_name::<File>("File");

    engine.register_fn("DirConfig", DirConfigBuilder::default);
    engine.register_fn("path", |_: &mut DirConfigBuilder, p: &str| {
        DirConfigBuilder {
            path: Some(p.to_owned()),
        }
    });
    engine.register_fn("build", |b: &mut DirConfigBuilder| match &b.path {
        Some(path) => Ok(DirConfig { path: path.clone() }),
        None => Err(invalid("DirConfig needs .path(...) before .build()")),
    });

    // Options are built the same way as in Rex; `build()` returns the finished value.
    engine.register_fn("OpenDirOptions", || OpenDirOptions);
    engine.register_fn("build", |o: &mut OpenDirOptions| o.clone());
    engine.register_fn("OpenFileOptions", OpenFileOptions::default);
    engine.register_fn("read", |_: &mut OpenFileOptions, read: bool| {
        OpenFileOptions { read }
    });
    engine.register_fn("build", |o: &mut OpenFileOptions| o.clone());

    let h = Rc::clone(&host);
    engine.register_fn("open", move |c: &mut DirConfig, _: OpenDirOptions| {
        h.open_dir(&c.path)
            .map(|d| Dir(Rc::new(d)))
            .map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn(
        "open_file",
        move |d: &mut Dir, name: &str, o: OpenFileOptions| {
            h.open_file(&d.0, name, o.read)
                .map(|f| File(Rc::new(RefCell::new(f))))
                .map_err(host_error)
        },
    );
    let h = Rc::clone(&host);
    engine.register_fn("read", move |f: &mut File| {
        h.read_handle(&mut f.0.borrow_mut()).map_err(host_error)
    });
    let h = host;
    engine.register_fn("execute", move |f: &mut File, o: ExecuteOptions| {
        h.execute_handle(&f.0.borrow(), &o.for_host(&h))
            .map(exec::result)
            .map_err(host_error)
    });
}
