//! mkube's integration and end-to-end tests, compiled as one test binary.
//!
//! One binary instead of one per file: every test binary links the whole dependency tree
//! (hundreds of MB in a debug build), and CI machines have little disk to spare. nextest
//! still runs every test in its own process, so isolation and parallelism are unchanged.

mod common;
mod engine_support;
mod images_support;
mod installer_support;
mod registry_support;
mod routeros_support;
mod sim_common;

mod actors_persist;
mod api_admission;
mod api_input;
mod boot;
mod cli;
mod config_load;
mod dns_api_key;
mod dns_cli;
mod dns_namespaces;
mod dns_pods;
mod events_codec;
mod generated_configmaps;
mod images;
mod images_api;
mod images_cache;
mod installer;
mod ipam;
mod k8s_api;
mod kubectl;
mod log;
mod microdns_client;
mod microdns_sim;
mod microdns_toml_shape;
mod nats_outage;
mod networks_api;
mod pods_configmaps;
mod pods_crash;
mod pods_engine;
mod pods_env;
mod pods_lifecycle;
mod pods_repair;
mod pods_rollout;
mod pods_status;
mod python_client;
mod registry_api;
mod registry_bad_inputs;
mod registry_certs;
mod registry_cli;
mod registry_clients;
mod registry_differential;
mod registry_large;
mod registry_mgmt;
mod registry_notify;
mod registry_tls;
mod registry_upstream;
mod replay_side_effects;
mod routeros_contract;
mod routeros_faults;
mod routeros_install;
mod routeros_tls;
mod shared_stream;
mod sim_container;
mod sim_control;
mod sim_import;
mod sim_knobs;
mod sim_process;
mod sim_pull;
mod sim_rest;
mod sim_transport;
mod snapshot;
mod subscriber;
