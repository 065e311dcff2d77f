//! ConfigMaps as desired state: put (create or replace) and delete are facts in the log;
//! readers (the API, the pods engine) read the published fold (`published.rs`). Files on the
//! device follow with the pods engine.

pub mod defaults;
pub mod state;

use super::journal::{Journal, commit};
use super::published::{Published, Shared};
use crate::events::AppendError;
use crate::events::catalogue::ConfigMapsEvent;
use actix::prelude::*;
use k8s_openapi::api::core::v1::ConfigMap;
use state::{ConfigMapsState, config_map_key};

pub struct ConfigMapsActor {
    journal: Journal,
    /// Shared copy-on-write with its readers (`published.rs`).
    state: Shared<ConfigMapsState>,
}

impl ConfigMapsActor {
    pub const NAME: &'static str = "configmaps";
    pub const AREAS: &'static [&'static str] = &["configmaps"];

    pub fn new(journal: Journal, state: ConfigMapsState) -> Self {
        ConfigMapsActor {
            journal,
            state: Shared::new(state),
        }
    }

    /// Where readers find the current ConfigMaps fold without asking the actor.
    pub fn published(&self) -> Published<ConfigMapsState> {
        self.state.published()
    }
}

impl Actor for ConfigMapsActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(ConfigMapsActor, ConfigMapsState, ConfigMaps(ConfigMapsEvent) => apply);
crate::published_actor!(ConfigMapsActor, ConfigMapsState);

#[derive(Debug, thiserror::Error)]
pub enum ConfigMapsError {
    #[error("configmap {0} already exists")]
    AlreadyExists(String),
    #[error("configmap {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Log(#[from] AppendError),
}

/// How a put treats an existing ConfigMap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Create only: an existing ConfigMap is a conflict (POST).
    Create,
    /// Replace only: a missing ConfigMap is not found (PUT, PATCH).
    Replace,
    /// Create or replace (POST, as the original did).
    Upsert,
}

/// Store a ConfigMap. Namespace and name must already be set and valid (the API admits).
#[derive(Debug, Message)]
#[rtype(result = "Result<(ConfigMap, u64), ConfigMapsError>")]
pub struct Put {
    pub config_map: ConfigMap,
    pub mode: PutMode,
    pub correlation: String,
}

/// Delete a ConfigMap.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, ConfigMapsError>")]
pub struct Remove {
    pub namespace: String,
    pub name: String,
    pub correlation: String,
}

impl Handler<Put> for ConfigMapsActor {
    type Result = AtomicResponse<Self, Result<(ConfigMap, u64), ConfigMapsError>>;

    fn handle(&mut self, msg: Put, _: &mut Context<Self>) -> Self::Result {
        let meta = &msg.config_map.metadata;
        let namespace = crate::pod::namespace_of(meta).to_string();
        let name = meta.name.clone().unwrap_or_default();
        let key = config_map_key(&namespace, &name);
        let exists = self.state.config_maps.contains_key(&key);
        let refused = match msg.mode {
            PutMode::Create if exists => Some(ConfigMapsError::AlreadyExists(key)),
            PutMode::Replace if !exists => Some(ConfigMapsError::NotFound(key)),
            _ => None,
        };
        if let Some(e) = refused {
            return AtomicResponse::new(Box::pin(fut::ready(Err(e))));
        }
        let config_map = msg.config_map;
        let event = ConfigMapsEvent::ConfigMapPut {
            namespace,
            name,
            config_map: Box::new(config_map.clone()),
        };
        AtomicResponse::new(Box::pin(commit(self, event.into(), &msg.correlation).map(
            move |r, _, _| {
                r.map(|seq| (config_map, seq))
                    .map_err(ConfigMapsError::from)
            },
        )))
    }
}

impl Handler<Remove> for ConfigMapsActor {
    type Result = AtomicResponse<Self, Result<u64, ConfigMapsError>>;

    fn handle(&mut self, msg: Remove, _: &mut Context<Self>) -> Self::Result {
        let key = config_map_key(&msg.namespace, &msg.name);
        if !self.state.config_maps.contains_key(&key) {
            return AtomicResponse::new(Box::pin(fut::ready(Err(ConfigMapsError::NotFound(key)))));
        }
        let event = ConfigMapsEvent::ConfigMapDeleted {
            namespace: msg.namespace,
            name: msg.name,
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation)
                .map(|r, _, _| r.map_err(ConfigMapsError::from)),
        ))
    }
}
