// The tenant form of `GET /`: opens the tenant's docs page or GraphiQL (their addresses hold the tenant id).
"use strict";
document.getElementById("tenant-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const tenant = document.getElementById("tenant-id").value.trim();
  if (!tenant) return;
  const to = event.submitter && event.submitter.value === "graphql" ? "graphql" : "docs";
  window.location.href = `/api/v1/${encodeURIComponent(tenant)}/${to}`;
});
