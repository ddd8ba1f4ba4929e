// Initiates the single-member replica set once; a no-op when it already exists (restarts).
// Kolot needs a replica set even with one member: transactions and change streams require one.
try {
  rs.status();
  print("replica set already initiated");
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  print("replica set rs0 initiated");
}
// wait for a primary, so the services start against a writable store
while (!db.hello().isWritablePrimary) sleep(500);
