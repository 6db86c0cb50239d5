// Healthcheck of the mongo service: initiate the single-node replica set once, then report its state.
// Change streams and transactions (used by the event store) need a replica set.
try {
  const status = rs.status();
  quit(status.myState === 1 ? 0 : 1);
} catch (e) {
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  quit(1);
}
