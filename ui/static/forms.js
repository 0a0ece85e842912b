// Behaviour of the forms screens; no inline scripts are allowed by the page CSP.
