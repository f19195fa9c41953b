//! Python bindings of the Kahuna client.
