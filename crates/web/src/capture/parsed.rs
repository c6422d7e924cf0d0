//! A captured message parsed for the API and the UI.
