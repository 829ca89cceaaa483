package ops

import (
	"context"
	"errors"
)

// NewSubPlan is an init-plan: Open runs sub to its end, then builds the
// main stream from sub's rows with build and opens it. Fields, Next and
// Close are the main stream's.
func NewSubPlan(sub Op, build func(ctx context.Context, fields []Field, rows []Row) (Op, error)) Op {
	return &subPlan{sub: newInputs(sub), build: build}
}

type subPlan struct {
	sub   inputs
	build func(ctx context.Context, fields []Field, rows []Row) (Op, error)
	main  inputs
}

func (s *subPlan) Open(ctx context.Context) error {
	s.main = inputs{}
	if err := s.sub.openAll(ctx); err != nil {
		return err
	}
	fields := s.sub.ops[0].Fields()
	rows, err := readAll(ctx, &s.sub, 0, &budget{}, nil)
	if err != nil {
		return s.sub.fail(err)
	}
	main, err := s.build(ctx, fields, rows)
	if err != nil {
		return err
	}
	s.main = newInputs(main)
	return s.main.openAll(ctx)
}

func (s *subPlan) Fields() []Field { return s.main.ops[0].Fields() }

func (s *subPlan) Next(ctx context.Context) (Row, error) { return s.main.ops[0].Next(ctx) }

func (s *subPlan) Close() error { return errors.Join(s.sub.closeAll(), s.main.closeAll()) }
