pub mod microdns;
pub mod routeros;
