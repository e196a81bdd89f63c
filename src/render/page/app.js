"use strict";
// Placeholder: the slot map page is built on the JSON API (see src/render/page.rs).
(async function () {
  const status = document.getElementById("status");
  const response = await fetch("/api/cluster/slot-map?by=keys" + location.search.replace(/^\?/, "&"));
  const body = await response.json();
  status.textContent = response.ok ? "snapshot " + body.data.snapshot_timestamp : body.error.message;
})();
