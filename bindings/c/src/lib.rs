//! C ABI of the Kahuna client.
