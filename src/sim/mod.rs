pub mod routeros;
