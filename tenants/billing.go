package tenants

// Billing is the plans and payments use case.
type Billing struct{}
